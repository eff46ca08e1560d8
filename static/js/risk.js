// The Risk page's live parts: metric cards and the chart, utilisation bars, limits, kill-switch
// state and the alert feed follow the "risk" and "alerts" pushes (risk.monitor, risk.limits,
// risk.killswitch). Markup always comes from the server's fragments; only the utilisation
// bars are patched in place from the monitor's numbers (they change every pass).
(function () {
  "use strict";

  // A 400 from an inline editor carries the form with its errors: show it, do not drop it.
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr && e.detail.xhr.status === 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  function refresh(id) {
    const el = document.getElementById(id);
    if (el && window.htmx) window.htmx.trigger(el, "risk-refresh");
  }

  // Throttle: the monitor pushes every RISK_CHECK_INTERVAL seconds.
  const pending = {};
  function refreshSoon(id, gap) {
    if (pending[id]) return;
    pending[id] = setTimeout(() => { pending[id] = null; refresh(id); }, gap || 250);
  }

  let chart = null;
  function chartData() {
    const el = document.getElementById("risk-history");
    if (!el) return [];
    try { return JSON.parse(el.textContent) || []; } catch (err) { return []; }
  }
  function drawChart() {
    const canvas = document.getElementById("risk-chart");
    if (!canvas || !window.Chart) return;
    const points = chartData();
    const labels = points.map((p) => p.at.slice(11, 19));
    // Display only: the chart needs numbers; the cards show the exact decimals.
    const values = points.map((p) => Number(p.value));
    if (!chart) {
      chart = new window.Chart(canvas, {
        type: "line",
        data: { labels, datasets: [{ label: "Portfolio value", data: values, borderColor: "#4da3ff", pointRadius: 0, tension: 0.2 }] },
        options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
                   scales: { x: { ticks: { maxTicksLimit: 8, color: "#8a94a6" } }, y: { ticks: { color: "#8a94a6" } } } },
      });
    } else {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values;
      chart.update("none");
    }
  }

  function patchUtilisation(limits) {
    (limits || []).forEach((u) => {
      const bar = document.querySelector(`[data-util="${u.limit_id}"]`);
      if (!bar || !bar.classList.contains("ubar") || u.utilisation_pct === null) return;
      // The monitor sends "80.0000" for a value measured to the hundredth; show it as the server does.
      const [whole, frac = ""] = String(u.utilisation_pct).split(".");
      const pct = `${whole}.${(frac + "00").slice(0, 2)}`;
      bar.classList.remove("warn", "bad");
      if (u.breached) bar.classList.add("bad");
      else if (parseFloat(pct) >= 80) bar.classList.add("warn");
      bar.querySelector("span").style.width = (parseFloat(pct) > 100 ? "100" : pct) + "%";
      bar.querySelector("em").textContent = `${pct}%${u.breached ? " BREACH" : ""}`;
      bar.title = `${u.measured} ${u.where || ""}`;
    });
  }

  function limitsBeingEdited() {
    return !!document.querySelector("#risk-limits tr.editing, #limit-add .errorlist");
  }

  function onRisk(event, data) {
    if (event === "metrics") {
      refreshSoon("risk-metrics", 0);
      // A bar that had no utilisation yet (new limit) needs the row from the server.
      const missing = (data.limits || []).some((u) => u.utilisation_pct !== null && !document.querySelector(`.ubar[data-util="${u.limit_id}"]`));
      if (missing && !limitsBeingEdited()) refreshSoon("risk-limits", 0);
      else patchUtilisation(data.limits);
    } else if (event === "limit_created" || event === "limit_updated" || event === "limit_deleted") {
      if (!limitsBeingEdited()) refreshSoon("risk-limits");
    } else if (event === "kill_switch") {
      refreshSoon("risk-kill-switches", 0);
    } else if (event === "breach") {
      refreshSoon("risk-alerts", 0);
    }
  }

  // The metrics fragment carries the chart's history: redraw after any swap (cheap, no animation).
  document.addEventListener("htmx:afterSettle", drawChart);

  function start() {
    drawChart();
    if (window.Live) window.Live.on("risk", onRisk);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
