// Copy buttons: the Clipboard API where the frame allows it, else select-and-copy.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  var live = document.querySelector('[data-copied="' + field.id + '"]');
  function done(ok) {
    button.textContent = ok ? "Copied" : "Press Ctrl+C";
    if (live) live.textContent = ok ? "Copied to the clipboard" : "Selected: press Ctrl+C to copy";
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }
  function fallback() {
    field.focus();
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, fallback);
  } else {
    fallback();
  }
});
