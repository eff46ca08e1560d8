// Strategies section: swap the parameter fields with the chosen type, select-all for bulk
// operations, confirm destructive actions. Everything works without it (all forms post plainly);
// live tables refresh through live.js (data-live-refresh).
(function () {
  "use strict";

  function swapParams() {
    const select = document.getElementById("id_strategy_type");
    if (!select) return;
    const apply = () => {
      document.querySelectorAll("[data-param-group]").forEach((group) => {
        const on = group.dataset.paramGroup === select.value;
        group.hidden = !on;
        group.querySelectorAll("input, textarea, select").forEach((el) => { el.disabled = !on; });
      });
    };
    select.addEventListener("change", apply);
    apply();
  }

  function selectAll() {
    document.querySelectorAll("[data-select-all]").forEach((box) => {
      box.addEventListener("change", () => {
        const form = box.closest("form");
        form.querySelectorAll('input[type=checkbox][name="strategies"]').forEach((el) => { el.checked = box.checked; });
      });
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    swapParams();
    selectAll();
    confirmations();
  });
})();
