// Alert toasts on every page (the "alerts" live topic) and the Monitoring overview's charts.
//
// A toast appears once per alert id: an alert is announced when it is raised and
// again when a rule delivers it in-app, and the operator should see it once.
(function () {
  "use strict";

  const TOAST_MS = 12000;
  const MAX_TOASTS = 5;
  const seen = new Set();

  function injectStyle() {
    if (document.getElementById("toast-style")) return;
    const style = document.createElement("style");
    style.id = "toast-style";
    style.textContent = `
      .toasts { position: fixed; right: 16px; bottom: 16px; z-index: 1000; display: flex; flex-direction: column; gap: 8px; max-width: 380px; }
      .toast { background: var(--bg-panel, #111827); color: var(--text, #e5e7eb); border: 1px solid var(--line, #374151);
               border-left: 4px solid var(--warn, #f59e0b); border-radius: 4px; padding: 10px 12px; box-shadow: 0 6px 18px rgba(0,0,0,.35); font-size: 13px; }
      .toast.critical { border-left-color: var(--bad, #ef4444); }
      .toast.info { border-left-color: var(--accent, #3b82f6); }
      .toast .t-head { display: flex; gap: 8px; align-items: baseline; }
      .toast .t-sev { font: 600 11px var(--mono, monospace); text-transform: uppercase; }
      .toast .t-msg { color: var(--text-dim, #9ca3af); margin-top: 3px; }
      .toast a { color: inherit; }
      .toast button { margin-left: auto; background: none; border: 0; color: inherit; cursor: pointer; }`;
    document.head.appendChild(style);
  }

  function toast(data) {
    const box = document.getElementById("toasts");
    if (!box || !data || data.id == null || seen.has(data.id)) return;
    seen.add(data.id);
    injectStyle();
    const el = document.createElement("div");
    el.className = `toast ${data.severity || "warning"}`;
    el.setAttribute("role", "status");
    el.dataset.alertId = data.id;
    const head = document.createElement("div");
    head.className = "t-head";
    const sev = document.createElement("span");
    sev.className = "t-sev";
    sev.textContent = data.severity || "alert";
    const title = document.createElement("a");
    title.href = `/monitoring/alerts/?text=${encodeURIComponent(data.title || "")}`;
    title.textContent = data.title || "Alert";
    const close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => el.remove());
    head.append(sev, title, close);
    el.appendChild(head);
    if (data.message) {
      const msg = document.createElement("div");
      msg.className = "t-msg";
      msg.textContent = data.message.length > 160 ? data.message.slice(0, 157) + "…" : data.message;
      el.appendChild(msg);
    }
    box.appendChild(el);
    while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
    setTimeout(() => el.remove(), TOAST_MS);
  }

  if (window.Live) {
    window.Live.on("alerts", (event, data) => {
      if (event === "alert_raised" || event === "alert" || event === "alert_delivered") toast(data);
    });
  }

  // --- charts (Monitoring overview) ---------------------------------------------------
  const PALETTE = ["#3b82f6", "#22c55e", "#f59e0b", "#ef4444", "#a855f7", "#14b8a6", "#eab308", "#ec4899"];
  const charts = {};

  function timeLabels(ts) {
    return ts.map((t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
  }

  function lineChart(id, labels, datasets, yTitle) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    if (charts[id]) {
      charts[id].data.labels = labels;
      charts[id].data.datasets = datasets;
      charts[id].update("none");
      return;
    }
    charts[id] = new window.Chart(canvas, {
      type: "line",
      data: { labels, datasets },
      options: {
        animation: false, responsive: true, spanGaps: true,
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        plugins: { legend: { labels: { boxWidth: 10, color: "#9ca3af", font: { size: 10 } } } },
        scales: {
          x: { ticks: { maxTicksLimit: 6, color: "#6b7280", font: { size: 10 } }, grid: { color: "rgba(255,255,255,.04)" } },
          y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle, color: "#6b7280" },
               ticks: { color: "#6b7280", font: { size: 10 } }, grid: { color: "rgba(255,255,255,.06)" } },
        },
      },
    });
  }

  function perProcess(series) {
    return Object.entries(series).map(([name, values], i) => ({
      label: name, data: values, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    }));
  }

  async function refreshCharts(url) {
    let body;
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!res.ok) return;
      body = await res.json();
    } catch (err) {
      return;
    }
    const p = body.points;
    const labels = timeLabels(p.t);
    lineChart("chart-latency", labels, [
      { label: "HTTP p95 ms", data: p.http_p95_ms, borderColor: PALETTE[0] },
      { label: "gate p99 ms", data: p.gate_p99_ms, borderColor: PALETTE[2] },
    ], "ms");
    lineChart("chart-rates", labels, [
      { label: "requests/s", data: p.http_rps, borderColor: PALETTE[1] },
      { label: "errors %", data: p.http_error_pct, borderColor: PALETTE[3] },
      { label: "orders/min", data: p.orders_pm, borderColor: PALETTE[4] },
    ]);
    lineChart("chart-cpu", labels, perProcess(p.cpu), "CPU %");
    lineChart("chart-rss", labels, perProcess(p.rss), "MB");
    const load = document.getElementById("host-load");
    if (load && body.host) {
      load.textContent = `host CPU ${body.host.cpu_pct}% · mem ${body.host.mem_pct}% · disk ${body.host.disk_pct ?? "?"}% · ${body.samples} samples`;
    }
    const grid = document.querySelector("[data-series-url]");
    if (grid) grid.dataset.loaded = String(body.samples);
  }

  const grid = document.querySelector("[data-series-url]");
  if (grid) {
    const url = grid.dataset.seriesUrl;
    refreshCharts(url);
    setInterval(() => refreshCharts(url), 5000);
  }
})();
