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

// A poller (a live check, a test message's status) that gets no answer (the network, a restarting web worker, a
// 5xx) asks again with a growing pause instead of stopping where it was, which would leave the page saying
// "Queued" for ever. A 4xx is an answer: base.html's htmx-config swaps it in, in the poller's place.
(function () {
  "use strict";
  if (window.sbPollersResume) return; // htmx runs this script again on every boosted page: listen once
  window.sbPollersResume = true;
  var FIRST_MS = 1000;
  var MAX_MS = 10000;

  function poller(event) {
    var elt = event.detail && event.detail.elt;
    return elt && elt.hasAttribute && elt.hasAttribute("data-poll") ? elt : null;
  }

  function note(elt, text) {
    var line = elt.querySelector(".sb-poll-note");
    if (!line) {
      line = document.createElement("span");
      line.className = "sb-poll-note slds-text-color_weak slds-m-left_x-small";
      elt.appendChild(line);
    }
    line.textContent = text;
  }

  function again(elt) {
    var pause = Math.min(MAX_MS, Number(elt.getAttribute("data-poll-pause") || FIRST_MS / 2) * 2);
    elt.setAttribute("data-poll-pause", String(pause));
    note(elt, "Switchboard is not answering; trying again…");
    setTimeout(function () {
      if (elt.isConnected) window.htmx.trigger(elt, "sb-poll-again");
    }, pause);
  }

  ["htmx:sendError", "htmx:timeout", "htmx:responseError"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = poller(event);
      if (elt) again(elt);
    });
  });
})();
