/* WhatsApp template panel: the Salesforce value picker, and no accidental form submission.
   The values were fetched once when the panel loaded (the JSON in #sf-values); each picker inserts one
   into its field at the cursor and fires "input", so the live preview follows. */
(function () {
  "use strict";

  function pickerValues() {
    var script = document.getElementById("sf-values");
    try {
      return script ? JSON.parse(script.textContent) : [];
    } catch (error) {
      return [];
    }
  }

  function insertAtCursor(input, text) {
    var start = input.value.length;
    var end = start;
    try {
      if (typeof input.selectionStart === "number") {
        start = input.selectionStart;
        end = input.selectionEnd;
      }
    } catch (error) { /* input types without a selection: append */ }
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    try {
      input.setSelectionRange(start + text.length, start + text.length);
    } catch (error) { /* see above */ }
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function buildPickers(root) {
    var values = pickerValues();
    var pickers = root.querySelectorAll ? root.querySelectorAll("select.sb-picker:not([data-ready])") : [];
    pickers.forEach(function (select) {
      select.setAttribute("data-ready", "1");
      if (!values.length) return;
      select.add(new Option("Insert a Salesforce value…", ""));
      values.forEach(function (item) {
        select.add(new Option(item.label + ": " + item.value, item.value));
      });
      var box = select.closest(".sb-picker__box");
      if (box) box.hidden = false;
      select.addEventListener("change", function () {
        var input = document.getElementById(select.getAttribute("data-target"));
        if (!input || !select.value) return;
        insertAtCursor(input, select.value);
        select.value = "";
        input.focus();
      });
    });
  }

  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "panel-form") event.preventDefault(); // Send is a button, not Enter
  });

  if (window.htmx) {
    window.htmx.onLoad(buildPickers);
  } else {
    buildPickers(document);
  }
})();
