/* The console session travels in the X-Console-Token header of every htmx request, never in a URL.
   The page starts with the token the server rendered (the body's hx-headers). Every answer carries a renewed
   one, which replaces it here and in the hidden "st" field of any plain form. While someone uses the page
   (a key, a click, a scroll in the last IDLE_MS) it is renewed every RENEW_MS even without other requests;
   a page left alone lets it expire (portal/console/session.py: MAX_AGE_SECONDS). */
(function () {
  "use strict";
  var HEADER = "X-Console-Token";
  var RENEW_MS = 4 * 60 * 1000;
  var IDLE_MS = 10 * 60 * 1000;
  var token = null;
  var lastActivity = Date.now();

  function remember(value) {
    if (!value || value === token) return;
    token = value;
    document.querySelectorAll('input[name="st"]').forEach(function (input) { input.value = value; });
  }

  function initial() {
    try {
      remember(JSON.parse(document.body.getAttribute("hx-headers") || "{}")[HEADER]);
    } catch (error) { /* no session on this page (an error page) */ }
    // Opened by Salesforce's POST to the Canvas URL: the address is the page's own (its forms post there).
    var page = document.body.getAttribute("data-console-page");
    if (page && page !== window.location.pathname) window.history.replaceState(null, "", page);
  }

  // The body is inert until htmx has processed it (templates/console/base.html): clicks wait for this.
  document.addEventListener("htmx:load", function (event) {
    if (event.target === document.body) document.body.removeAttribute("inert");
  });
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) event.detail.headers[HEADER] = token;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr) remember(xhr.getResponseHeader(HEADER));
  });
  // Back and forward: htmx keeps no snapshots (they would hold the token), so it asks the server again.
  document.addEventListener("htmx:historyCacheMiss", function (event) {
    if (token) event.detail.xhr.setRequestHeader(HEADER, token);
  });
  document.addEventListener("htmx:historyCacheMissLoad", function (event) {
    remember(event.detail.xhr.getResponseHeader(HEADER));
  });
  ["keydown", "pointerdown", "scroll", "input"].forEach(function (name) {
    document.addEventListener(name, function () { lastActivity = Date.now(); }, { capture: true, passive: true });
  });

  function renew() {
    var url = document.body.getAttribute("data-console-renew");
    if (!token || !url || !window.htmx) return;
    if (document.visibilityState !== "visible" || Date.now() - lastActivity > IDLE_MS) return;
    window.htmx.ajax("GET", url, { source: document.body, swap: "none" });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initial);
  } else {
    initial();
  }
  setInterval(renew, RENEW_MS);
})();
