// Portfolio page: the equity curve and drawdown charts (Chart.js). The history panel
// arrives as its own htmx fragment after the page; the charts are drawn when it lands
// and extended by the "portfolio" topic's snapshot events. Tables and cards refresh
// themselves through data-live-refresh fragments (live.js); only the charts need script.
(function () {
  "use strict";

  let equity = null;
  let drawdown = null;
  let data = null;
  let peak = -Infinity;

  function label(iso) {
    // "2026-11-24T21:00:00+00:00" -> "11-24 21:00" (daily: "2026-11-24").
    return data.kind === "daily" ? iso.slice(0, 10) : iso.slice(5, 16).replace("T", " ");
  }

  function lineChart(canvasId, points, opts) {
    const canvas = document.getElementById(canvasId);
    if (!canvas) return null;
    const css = getComputedStyle(document.documentElement);
    const grid = (css.getPropertyValue("--line") || "#263040").trim();
    const text = (css.getPropertyValue("--text-dim") || "#8b97a7").trim();
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: points.map((p) => label(p.at)),
        datasets: [{
          label: opts.label,
          // Strings from the server (exact Decimals); Chart.js plots numbers.
          data: points.map((p) => (p.value === null ? null : Number(p.value) * (opts.scale || 1))),
          borderColor: opts.color,
          backgroundColor: opts.fill,
          fill: !!opts.fill,
          borderWidth: 1.5,
          pointRadius: points.length > 60 ? 0 : 2,
          tension: 0,
        }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false }, title: { display: true, text: opts.label, color: text, align: "start" } },
        scales: {
          x: { ticks: { color: text, maxTicksLimit: 8, autoSkip: true }, grid: { color: grid } },
          y: { ticks: { color: text, callback: opts.tick }, grid: { color: grid } },
        },
      },
    });
  }

  function draw() {
    const dataEl = document.getElementById("perf-data");
    if (!dataEl || !window.Chart) return;
    data = JSON.parse(dataEl.textContent);
    if (equity) equity.destroy();
    if (drawdown) drawdown.destroy();
    equity = lineChart("equity-chart", data.series, {
      label: "Equity (" + data.kind + ", USD)",
      color: "#4da3ff",
      tick: (v) => v.toLocaleString(),
    });
    drawdown = lineChart("drawdown-chart", data.drawdown, {
      label: "Drawdown %",
      color: "#f0524f",
      fill: "rgba(240,82,79,.15)",
      scale: 100,
      tick: (v) => v.toFixed(2) + "%",
    });
    peak = Math.max(...data.series.map((p) => Number(p.value)));
    const box = document.getElementById("equity-chart-box");
    if (box && equity) box.dataset.ready = "1";
  }

  // A new desk snapshot of the kind shown extends both curves without a reload.
  function onSnapshot(event, payload) {
    if (event !== "snapshot" || !payload || !equity || !data || payload.kind !== data.kind) return;
    const value = Number(payload.total_value);
    const at = label(payload.at);
    const labels = equity.data.labels;
    const values = equity.data.datasets[0].data;
    if (data.kind === "daily" && labels.length && labels[labels.length - 1] === at) {
      values[values.length - 1] = value; // the day's close row is updated in place
    } else {
      labels.push(at);
      values.push(value);
      if (drawdown) drawdown.data.labels.push(at);
    }
    peak = Math.max(peak, value);
    if (drawdown) {
      const dd = drawdown.data.datasets[0].data;
      const dv = peak > 0 ? (value / peak - 1) * 100 : 0;
      if (dd.length === labels.length) dd[dd.length - 1] = dv; else dd.push(dv);
      drawdown.update("none");
    }
    equity.update("none");
  }

  document.addEventListener("htmx:afterSettle", (ev) => {
    if (document.getElementById("perf-data") && ev.target && ev.target.id === "history") draw();
  });
  draw();
  if (window.Live) window.Live.on("portfolio", onSnapshot);
})();
