// The counter: focus where the cashier's next keystroke belongs, arrow keys through the matches,
// tap-to-add items with a running total, and a second tap to confirm a redemption or an undo.
(function () {
  "use strict";

  function lookup() { return document.getElementById("lookup"); }

  function focusForPanel() {
    var root = document.querySelector("#counter-main > [data-focus]");
    if (!root) return;
    var where = root.getAttribute("data-focus");
    var field = null;
    if (where === "amount") field = document.getElementById("amount");
    if (where === "enrol") {
      // The first empty field: the name when a phone number was typed, and so on.
      field = Array.prototype.find.call(
        root.querySelectorAll(".enrol input[name=name], .enrol input[name=phone], .enrol input[name=email]"),
        function (input) { return !input.value; }) || document.getElementById("enrol-name");
    }
    field = field || lookup();
    if (!field) return;
    field.focus();
    if (field.select) field.select();
  }

  function formatMoney(value, input) {
    var lang = (input && input.getAttribute("data-lang")) || document.documentElement.lang || "en";
    var currency = (input && input.getAttribute("data-currency")) || "EUR";
    try {
      return new Intl.NumberFormat(lang, { style: "currency", currency: currency }).format(value);
    } catch (e) { return value.toFixed(2); }
  }

  function updateTotal(form) {
    var amountInput = form.querySelector("#amount");
    var out = form.querySelector("[data-total]");
    if (!out) return;
    var total = parseFloat((amountInput.value || "0").replace(",", ".")) || 0;
    var items = 0;
    form.querySelectorAll(".item").forEach(function (item) {
      var qty = parseInt(item.querySelector("input").value || "0", 10) || 0;
      item.classList.toggle("picked", qty > 0);
      items += qty;
      total += qty * parseFloat(item.getAttribute("data-price"));
    });
    out.hidden = items === 0;
    out.textContent = out.hidden ? "" : (out.getAttribute("data-label") || "") + formatMoney(total, amountInput);
  }

  document.addEventListener("click", function (event) {
    // Tap an item tile: one more of it. Tapping its number field types a quantity instead.
    var item = event.target.closest(".item");
    if (item && event.target.tagName !== "INPUT") {
      event.preventDefault();
      var input = item.querySelector("input");
      input.value = (parseInt(input.value || "0", 10) || 0) + 1;
      updateTotal(item.closest("form"));
      return;
    }
    // Two taps to confirm: the first arms the button for a few seconds, the second submits.
    var button = event.target.closest("button[data-confirm]");
    if (button && !button.classList.contains("confirming")) {
      event.preventDefault();
      var label = button.textContent;
      button.classList.add("confirming");
      button.textContent = button.getAttribute("data-confirm");
      setTimeout(function () {
        button.classList.remove("confirming");
        button.textContent = label;
      }, 4000);
    }
  });

  document.addEventListener("input", function (event) {
    var form = event.target.closest("form.sale");
    if (form) updateTotal(form);
  });

  document.addEventListener("keydown", function (event) {
    // Arrow keys move between the field and the list of matches; Enter opens the focused one.
    var results = Array.prototype.slice.call(document.querySelectorAll("#counter-main .result"));
    if (!results.length || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    var index = results.indexOf(document.activeElement);
    if (document.activeElement === lookup() && event.key === "ArrowDown") index = -1;
    else if (index === -1) return;
    event.preventDefault();
    var next = index + (event.key === "ArrowDown" ? 1 : -1);
    if (next < 0) { lookup().focus(); return; }
    results[Math.min(next, results.length - 1)].focus();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "counter-main") focusForPanel();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("counter-main");
    if (main && main.querySelector("[data-focus=amount], [data-focus=enrol]")) focusForPanel();
  });
})();
