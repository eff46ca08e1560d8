// The Execution page: the order ticket (check as you type, risk preview, place),
// the last order's live progress, and cancel / modify / cancel-all on working orders.
//
// The server decides everything (trading.order_entry, the risk gate); this file
// only sends what the trader typed and shows the answers. Status changes arrive
// over the live socket (topic "orders"); the tables refresh themselves
// (data-live-refresh), the result panel re-reads the order's progress fragment.
(function () {
  "use strict";

  const CHECK_DELAY_MS = 250;
  const ticket = document.getElementById("order-ticket");

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }

  async function post(url, body) {
    // Always urlencoded: an empty multipart body is a parse error for Django (HTTP 400).
    const form = new URLSearchParams(body || new FormData());
    const response = await fetch(url, {
      method: "POST",
      body: form,
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: `HTTP ${response.status}` }; }
    return { status: response.status, data: data };
  }

  function text(el, value) { if (el) el.textContent = value; }

  function escapeHtml(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function showMessage(el, message, ok) {
    if (!el) return;
    el.classList.remove("ok", "bad");
    el.classList.add(ok ? "ok" : "bad");
    el.textContent = message || "";
  }

  function errorText(data) {
    if (data.error) return data.error;
    if (data.errors) return Object.entries(data.errors).map(([k, v]) => (k === "__all__" ? v : `${k}: ${v}`)).join(" ");
    return "Refused.";
  }

  // -- the ticket -------------------------------------------------------------------------
  if (ticket) {
    const touched = new Set();
    let showAll = false;
    let checkTimer = null;
    let checkSeq = 0;
    let inFlight = false;
    let currentOrderId = null;
    let currentStatus = null;
    const field = (name) => ticket.elements.namedItem(name);
    const submitBtn = document.getElementById("ticket-submit");

    function selectedSide() {
      const checked = ticket.querySelector("input[name=side]:checked");
      return checked ? checked.value : "BUY";
    }

    function syncVisibility() {
      const type = field("order_type").value;
      const tif = field("time_in_force").value;
      ticket.querySelectorAll("[data-show-for]").forEach((row) => {
        row.hidden = !row.dataset.showFor.split(" ").includes(type);
      });
      ticket.querySelectorAll("[data-show-for-tif]").forEach((row) => {
        row.hidden = row.dataset.showForTif !== tif;
      });
      const side = selectedSide();
      submitBtn.classList.toggle("buy-btn", side === "BUY");
      submitBtn.classList.toggle("sell-btn", side === "SELL");
      submitBtn.textContent = `Place ${side === "BUY" ? "buy" : "sell"} order`;
    }

    function renderErrors(errors) {
      ticket.querySelectorAll("[data-error-for]").forEach((el) => {
        const name = el.dataset.errorFor;
        const visible = showAll || touched.has(name) || name === "__all__";
        const message = errors && errors[name] && visible ? errors[name] : "";
        el.textContent = message;
        const input = field(name);
        if (input && input.classList) input.classList.toggle("invalid", !!message);
      });
    }

    // "2410000.50" -> "2,410,000.50": grouped as the Portfolio page prints money, on the string (no float).
    function grouped(amount) {
      const [whole, fraction] = String(amount).split(".");
      return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (fraction !== undefined ? `.${fraction}` : "");
    }

    function renderFacts(data) {
      const inst = data.instrument;
      if (inst) {
        const quote = inst.bid != null ? `${inst.bid} / ${inst.ask}` + (inst.quote_age != null ? `  (${inst.quote_age}s ago)` : "") : "no price";
        text(document.getElementById("fact-quote"), quote);
        text(document.getElementById("fact-sizes"), `${inst.lot_size} / ${inst.tick_size}` + (inst.min_quantity && inst.min_quantity !== "0" ? `  min ${inst.min_quantity}` : ""));
        text(document.getElementById("ticket-size-hint"), `Lot ${inst.lot_size}` + (inst.min_quantity && inst.min_quantity !== "0" ? `, min ${inst.min_quantity}` : ""));
        text(document.getElementById("ticket-tick-hint"), `Tick ${inst.tick_size} ${inst.quote_currency || ""}`);
      } else {
        text(document.getElementById("fact-quote"), "—");
        text(document.getElementById("fact-sizes"), "—");
      }
      const power = data.buying_power;
      text(document.getElementById("fact-power"), power ? `${grouped(power.free)} ${power.currency} free` : "—");
    }

    async function check() {
      const seq = ++checkSeq;
      const { data } = await post(ticket.dataset.checkUrl, new FormData(ticket));
      if (seq !== checkSeq) return; // a newer keystroke already asked
      renderErrors(data.errors || {});
      renderFacts(data);
    }

    function scheduleCheck() {
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, CHECK_DELAY_MS);
    }

    function renderPreview(status, data) {
      const box = document.getElementById("ticket-preview-result");
      if (status === 400 || !data.preview) {
        box.innerHTML = `<div class="msg bad">Fix the ticket first: ${escapeHtml(errorText(data))}</div>`;
        return;
      }
      const p = data.preview;
      const rows = p.checks.map((c) => `<tr data-check="${escapeHtml(c.check)}" data-passed="${c.passed}">
          <td class="mono">${escapeHtml(c.check)}</td>
          <td>${c.passed ? '<span class="badge ok">Pass</span>' : '<span class="badge bad">Fail</span>'}</td>
          <td class="num">${escapeHtml(c.measured ?? "—")}</td><td class="num">${escapeHtml(c.limit ?? "—")}</td>
          <td class="wrap">${escapeHtml(c.reason_code || "")} <span class="dim">${escapeHtml(c.message || "")}</span></td></tr>`).join("");
      box.innerHTML = `<div class="msg ${p.approved ? "ok" : "bad"}" data-testid="preview-verdict">${p.approved ? "Would pass the risk gate" : "Would be rejected: " + escapeHtml(p.message)}</div>
        ${p.bid ? `<div class="dim" data-testid="preview-price">Judged at bid ${escapeHtml(p.bid)} / ask ${escapeHtml(p.ask)}</div>` : ""}
        <div class="table-wrap"><table class="data"><thead><tr><th>Check</th><th>Result</th><th class="num">Measured</th><th class="num">Limit</th><th>Reason</th></tr></thead>
        <tbody>${rows}</tbody></table></div><div class="faint">${escapeHtml(p.note)}</div>`;
    }

    async function preview() {
      showAll = true;
      const { status, data } = await post(ticket.dataset.previewUrl, new FormData(ticket));
      renderErrors(data.errors || {});
      renderFacts(data);
      renderPreview(status, data);
    }

    let progressSeq = 0;
    async function loadProgress(orderId) {
      // Two events close together start two reads; only the last one asked may paint,
      // or an older answer arriving late would show a status the order has left.
      const seq = ++progressSeq;
      const response = await fetch(`/execution/orders/${orderId}/?fragment=progress`, { credentials: "same-origin" });
      const html = response.ok ? await response.text() : null;
      if (html === null || seq !== progressSeq || orderId !== currentOrderId) return;
      document.getElementById("ticket-result").innerHTML = html;
    }

    async function place(event) {
      event.preventDefault();
      if (inFlight) return; // the idempotency key covers a second click that gets through anyway
      inFlight = true;
      submitBtn.disabled = true;
      showAll = true;
      const message = document.getElementById("ticket-message");
      try {
        const { status, data } = await post(ticket.action, new FormData(ticket));
        if (status === 201 || status === 200) {
          const order = data.order;
          currentOrderId = order.id;
          currentStatus = order.status;
          field("idempotency_key").value = data.next_idempotency_key;
          renderErrors({});
          const rejected = order.status === "REJECTED";
          // The placement's outcome; the order's live status is in its progress below.
          showMessage(message, rejected ? `Rejected by the risk gate: ${order.status_reason}` : `Placed ${order.client_order_id}: passed the risk gate`, !rejected);
          await loadProgress(order.id);
        } else if (status === 400) {
          renderErrors(data.errors || {});
          showMessage(message, "Not placed: " + errorText(data), false);
        } else {
          showMessage(message, `Not placed (HTTP ${status}): ${errorText(data)}`, false);
        }
      } catch (err) {
        showMessage(message, "Not placed: the desk did not answer. Check Active orders before trying again.", false);
      } finally {
        inFlight = false;
        submitBtn.disabled = false;
      }
    }

    ticket.addEventListener("input", (ev) => { if (ev.target.name) touched.add(ev.target.name); scheduleCheck(); });
    ticket.addEventListener("change", (ev) => { if (ev.target.name) touched.add(ev.target.name); syncVisibility(); scheduleCheck(); });
    ticket.addEventListener("submit", place);
    document.getElementById("ticket-preview").addEventListener("click", preview);
    syncVisibility();
    scheduleCheck();

    if (window.Live) {
      window.Live.on("orders", (event, data) => {
        if (data && currentOrderId !== null && data.id === currentOrderId) {
          loadProgress(currentOrderId);
          // The push of the status the POST already answered can land after it: keep that message.
          if (data.status === currentStatus) return;
          currentStatus = data.status;
          const msg = document.getElementById("ticket-message");
          const bad = data.status === "REJECTED" || data.status === "VENUE_REJECTED";
          showMessage(msg, `${data.client_order_id}: ${data.status_display}${bad && data.status_reason ? " — " + data.status_reason : ""}`, !bad);
        }
      });
    }
  }

  // -- working orders: cancel, modify, cancel all ---------------------------------------
  const actionMessage = document.getElementById("order-action-message");
  const dialog = document.getElementById("modify-dialog");
  let modifying = null;

  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const id = button.dataset.id;
    if (button.dataset.action === "cancel") {
      button.disabled = true;
      const { status, data } = await post(`/execution/orders/${id}/cancel/`);
      showMessage(actionMessage, status === 202 ? data.message : errorText(data), status === 202);
      button.disabled = false;
    } else if (button.dataset.action === "modify" && dialog) {
      modifying = id;
      text(document.getElementById("modify-coid"), button.dataset.coid);
      const strip = (v) => (v || "").replace(/,/g, "");
      [["modify-quantity", button.dataset.quantity], ["modify-price", button.dataset.price],
        ["modify-trigger", button.dataset.trigger]].forEach(([inputId, value]) => {
        const input = document.getElementById(inputId);
        input.value = strip(value);
        input.dataset.original = input.value;
      });
      const type = button.dataset.orderType;
      document.getElementById("modify-price-row").hidden = !["LIMIT", "STOP_LIMIT"].includes(type);
      document.getElementById("modify-trigger-row").hidden = !["STOP_MARKET", "STOP_LIMIT"].includes(type);
      document.getElementById("modify-error").textContent = "";
      dialog.showModal();
    }
  });

  if (dialog) {
    document.getElementById("modify-close").addEventListener("click", () => dialog.close());
    document.getElementById("modify-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = new FormData();
      ["quantity", "price", "trigger_price"].forEach((name) => {
        const input = ev.target.elements.namedItem(name);
        // Only what the trader changed: the message and the audit then say what moved.
        const value = input ? input.value.trim() : "";
        if (input && !input.closest("[hidden]") && value && value !== input.dataset.original) body.append(name, value);
      });
      const { status, data } = await post(`/execution/orders/${modifying}/modify/`, body);
      if (status === 202) {
        dialog.close();
        showMessage(actionMessage, data.message, true);
      } else {
        document.getElementById("modify-error").textContent = errorText(data);
      }
    });
  }

  document.addEventListener("submit", async (ev) => {
    if (ev.target.id !== "cancel-all") return;
    ev.preventDefault();
    const form = ev.target;
    const scope = [form.elements.account.value, form.elements.instrument.value].filter(Boolean).join(" / ") || "every account";
    if (!window.confirm(`Cancel all working orders of ${scope}?`)) return;
    const { status, data } = await post(form.action, new FormData(form));
    showMessage(actionMessage, status === 202 ? data.message : errorText(data), status === 202);
  });
})();
