// The desk's one live connection: /ws/live/?topics=status,<the page's topics>.
//
// Opens the socket, reconnects with backoff, hands every event to the page's
// handlers, refreshes server-rendered fragments that asked for it, and turns
// every header indicator red the moment the connection (or the status stream)
// is lost: a screen that cannot hear the desk must not look healthy.
(function () {
  "use strict";

  const STATUS_SILENCE_MS = 12000; // no status push for this long = lost
  const MAX_BACKOFF_MS = 10000;
  const REFRESH_MIN_GAP_MS = 1000;
  const IN_FLIGHT_RETRY_MS = 100;

  const handlers = {};
  let socket = null;
  let backoff = 500;
  let lastStatusAt = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let everConnected = false;

  function topics() {
    const page = (document.body.dataset.liveTopics || "").split(",").map((t) => t.trim()).filter(Boolean);
    return Array.from(new Set(["status", ...page]));
  }

  function setConn(state, text) {
    const el = document.getElementById("live-conn");
    if (!el) return;
    el.classList.remove("ok", "bad");
    if (state) el.classList.add(state);
    el.querySelector(".conn-text").textContent = text;
    el.dataset.state = state || "";
  }

  function markLost(reason) {
    document.querySelectorAll("#status-strip [data-indicator]").forEach((el) => {
      el.classList.remove("ok", "warn", "idle");
      el.classList.add("bad");
      el.dataset.level = "red";
      el.dataset.tip = `${reason} — the state shown cannot be trusted until the desk reconnects.`;
      const state = el.querySelector(".ind-state");
      if (state) state.textContent = "offline";
    });
    setConn("bad", reason.toLowerCase());
  }

  function applyStatus(data) {
    lastStatusAt = Date.now();
    const strip = document.getElementById("status-strip");
    if (strip && data.html) {
      strip.outerHTML = data.html;
    }
    setConn("ok", "live");
  }

  // Fragments that declare data-live-refresh="topic,topic" and an hx-get are
  // re-fetched (at most once a second) when one of their topics has an event.
  const refreshState = new WeakMap();
  function refreshFragments(topic) {
    if (!window.htmx) return;
    document.querySelectorAll("[data-live-refresh]").forEach((el) => {
      const wanted = el.dataset.liveRefresh.split(",").map((t) => t.trim());
      if (!wanted.includes(topic)) return;
      const st = refreshState.get(el) || { last: 0, timer: null };
      refreshState.set(el, st);
      if (st.timer) return;
      const wait = Math.max(0, st.last + REFRESH_MIN_GAP_MS - Date.now());
      const fire = () => {
        const current = el.id ? document.getElementById(el.id) : el;
        if (current && current.classList.contains("htmx-request")) {
          // A refresh is still in flight and may have been rendered before this event;
          // htmx drops a trigger while one is in flight, so fire once it has landed.
          st.timer = setTimeout(fire, IN_FLIGHT_RETRY_MS);
          return;
        }
        st.timer = null;
        st.last = Date.now();
        if (current) window.htmx.trigger(current, "live-refresh");
      };
      st.timer = setTimeout(fire, wait);
    });
  }

  // A kill-switch change is pushed at once (risk.killswitch), ahead of the next status push.
  function applyKillSwitch(ks) {
    const badge = document.querySelector('#status-strip [data-indicator="kill-switch"]');
    if (!badge || !ks) return;
    const cls = { green: "ok", amber: "warn", red: "bad" }[ks.level] || "idle";
    badge.classList.remove("ok", "warn", "bad", "idle");
    badge.classList.add(cls);
    badge.dataset.level = ks.level;
    badge.dataset.tip = ks.detail || "";
    badge.textContent = `KILL SWITCH ${ks.label}`;
  }

  function dispatch(msg) {
    if (msg.topic === "status" && msg.event === "status") applyStatus(msg.data);
    if (msg.topic === "status" && msg.event === "kill_switch") applyKillSwitch(msg.data);
    (handlers[msg.topic] || []).forEach((fn) => {
      try { fn(msg.event, msg.data, msg); } catch (err) { console.error("live handler failed", err); }
    });
    (handlers["*"] || []).forEach((fn) => fn(msg.event, msg.data, msg));
    if (msg.topic) refreshFragments(msg.topic);
    document.dispatchEvent(new CustomEvent("live:" + msg.topic, { detail: msg }));
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    const delay = backoff * (0.75 + Math.random() * 0.5);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    setConn("bad", `reconnecting in ${Math.round(delay / 1000)}s`);
    reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, delay);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/live/?topics=${encodeURIComponent(topics().join(","))}`;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      markLost("Connection to the desk lost");
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", () => {
      everConnected = true;
      backoff = 500;
      setConn("ok", "live");
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    socket.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { return; }
      dispatch(msg);
    });
    socket.addEventListener("close", (ev) => {
      clearInterval(pingTimer);
      socket = null;
      if (ev.code === 4401) {
        // The session ended: back to the login page, then here again.
        location.href = `/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
        return;
      }
      markLost(everConnected ? "Connection to the desk lost" : "Cannot reach the desk");
      scheduleReconnect();
    });
  }

  // The socket can stay open while the server's status loop is stuck: silence is also loss.
  setInterval(() => {
    if (lastStatusAt && Date.now() - lastStatusAt > STATUS_SILENCE_MS) {
      markLost("No status update from the desk");
    }
  }, 2000);

  window.Live = {
    on(topic, fn) { (handlers[topic] = handlers[topic] || []).push(fn); },
    get connected() { return !!socket && socket.readyState === WebSocket.OPEN; },
  };

  if (document.getElementById("status-strip")) {
    connect();
  }
})();
