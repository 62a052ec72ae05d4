/* The Case chat panel (portal/console/case_panel): draws the conversation from JSON and keeps it live.

   The page starts with the Case's messages in #case-feed; then it asks the panel's updates URL every
   POLL_MS for what changed since its cursor and puts each message in its place by id (a changed message,
   say a new tick, replaces its row). The requests go through htmx, so session.js adds and renews the console
   token as for every other request. Every text from the server is set with textContent: hostile text stays
   text. While nobody uses the page (no key, click or scroll for IDLE_MS, as session.js counts) it stops
   asking, so an unattended page lets its session expire; "Show new messages" starts it again. */
(function () {
  "use strict";
  var POLL_MS = 1500;
  var FULL_EVERY = 40; // every 40th poll reloads everything shown: a cheap safety net for a missed change
  var IDLE_MS = 10 * 60 * 1000;
  var NEAR_BOTTOM_PX = 48;

  var panel, list, source, cursor = "", polls = 0, busy = false, again = false, stopped = "";
  var lastActivity = Date.now();
  var rows = {};
  var state = { closed: false, windowOpen: true, windowApplies: false };

  function node(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function clock(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return "";
    var sameDay = when.toDateString() === new Date().toDateString();
    var time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return sameDay ? time : when.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + time;
  }

  function safeLink(path) {
    // Only our own files (a site-relative path the server made) become links.
    return typeof path === "string" && /^\/[^/\\]/.test(path) ? path : "";
  }

  function render(message) {
    var item = node("li", "sb-chat__item sb-chat__item_" + (message.direction === "in" ? "in" : "out"));
    item.id = "message-" + message.id;
    item.setAttribute("data-order", message.order);
    item.setAttribute("data-status", message.status);
    var bubble = node("div", "sb-chat__bubble");
    var meta = node("div", "sb-chat__meta");
    meta.appendChild(node("span", "sb-chat__author", message.author));
    meta.appendChild(node("span", "sb-chat__time", clock(message.at)));
    bubble.appendChild(meta);
    if (message.text) bubble.appendChild(node("div", "sb-chat__text", message.text));
    if (message.file) {
      var file = node("div", "sb-chat__file");
      var link = safeLink(message.file.link);
      if (link) {
        var anchor = node("a", "", "📎 " + message.file.name);
        anchor.href = link;
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer";
        file.appendChild(anchor);
      } else {
        file.textContent = "📎 " + message.file.name;
      }
      bubble.appendChild(file);
    }
    if (message.choices && message.choices.length) {
      var choices = node("ul", "sb-chat__choices");
      choices.setAttribute("aria-label", "Choices offered");
      message.choices.forEach(function (title) { choices.appendChild(node("li", "sb-chat__choice", title)); });
      bubble.appendChild(choices);
    }
    if (message.direction === "out" || message.status_label) {
      var status = node("div", "sb-chat__status sb-chat__status_" + message.status);
      if (message.ticks) {
        var ticks = node("span", "sb-chat__ticks", message.ticks);
        ticks.setAttribute("aria-hidden", "true");
        status.appendChild(ticks);
      }
      status.appendChild(node("span", "sb-chat__status-label", message.status_label));
      bubble.appendChild(status);
    }
    if (message.error) bubble.appendChild(node("div", "sb-chat__error", message.error));
    item.appendChild(bubble);
    return item;
  }

  function place(item) {
    var order = item.getAttribute("data-order");
    var after = null;
    var children = list.querySelectorAll(".sb-chat__item");
    for (var i = children.length - 1; i >= 0; i--) {
      if (children[i].getAttribute("data-order") <= order) { after = children[i]; break; }
    }
    if (after) {
      after.insertAdjacentElement("afterend", item);
    } else {
      list.insertBefore(item, list.firstChild);
    }
  }

  function upsert(message) {
    var item = render(message);
    var existing = rows[message.id];
    if (existing && existing.parentNode) {
      existing.parentNode.replaceChild(item, existing);
    } else {
      place(item);
    }
    rows[message.id] = item;
  }

  function showCase(info) {
    if (!info) return;
    state.closed = !!info.closed;
    var status = document.getElementById("case-status");
    if (status && info.status) status.textContent = info.status;
    var closed = document.getElementById("case-closed");
    if (closed) closed.hidden = !state.closed;
  }

  function showWindow(window_) {
    var badge = document.getElementById("window-state");
    if (!window_ || !badge) return;
    state.windowApplies = !!window_.applies;
    state.windowOpen = !!window_.open;
    var template = document.getElementById("window-template");
    if (window_.open) {
      badge.className = "slds-badge slds-theme_success";
      badge.textContent = "Free text allowed until " + clock(window_.closes_at);
    } else {
      badge.className = "slds-badge slds-theme_warning";
      badge.textContent = window_.closes_at
        ? "24-hour window closed: only templates reach this customer"
        : "The customer has not written yet: only templates reach them";
    }
    badge.setAttribute("data-open", window_.open ? "true" : "false");
    if (template) template.hidden = !!window_.open || !document.getElementById("send-template");
  }

  function lockForm() {
    var form = document.getElementById("reply-form");
    if (!form) return;
    var reason = "";
    if (state.closed) reason = "The Case is closed: replies are off.";
    else if (state.windowApplies && !state.windowOpen) reason = "WhatsApp's 24-hour window is closed: send a template.";
    form.querySelectorAll("textarea, input[type=file], button").forEach(function (control) {
      control.disabled = !!reason;
    });
    var note = document.getElementById("reply-locked");
    if (!note) {
      note = node("p", "slds-text-body_small slds-text-color_weak");
      note.id = "reply-locked";
      form.insertBefore(note, form.firstChild);
    }
    note.textContent = reason;
    note.hidden = !reason;
  }

  function apply(data) {
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
    (data.messages || []).forEach(upsert);
    var empty = document.getElementById("case-empty");
    if (empty) empty.hidden = list.querySelectorAll(".sb-chat__item").length > 0;
    if (data.cursor) cursor = data.cursor;
    showCase(data.case);
    showWindow(data.window);
    lockForm();
    if (atBottom || data.first) list.scrollTop = list.scrollHeight;
  }

  function say(text, canResume) {
    var box = document.getElementById("feed-status");
    if (!box) return;
    document.getElementById("feed-status-text").textContent = text;
    document.getElementById("feed-resume").hidden = !canResume;
    box.hidden = !text;
  }

  function poll(full) {
    if (busy) { again = again || full !== undefined; return; } // asked while a poll runs: once more after it
    if (stopped || !window.htmx) return;
    if (document.visibilityState === "hidden") return;
    if (Date.now() - lastActivity > IDLE_MS) {
      stopped = "idle";
      say("Paused while you were away.", true);
      return;
    }
    busy = true;
    polls += 1;
    var everything = full || polls % FULL_EVERY === 0;
    window.htmx.ajax("GET", panel.getAttribute("data-updates"), {
      source: source, swap: "none", values: everything ? {} : { since: cursor }
    });
  }

  function answered(event) {
    busy = false;
    var xhr = event.detail.xhr;
    if (again) { again = false; setTimeout(function () { poll(false); }, 0); }
    if (!xhr) return;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status === 200 && type.indexOf("application/json") === 0) {
      say("", false);
      try { apply(JSON.parse(xhr.responseText)); } catch (error) { /* a broken answer: the next poll */ }
    } else if (xhr.status === 403 || xhr.status === 404) {
      stopped = "refused";
      say("Your session for this Case has ended. Reload the Case page in Salesforce to continue.", false);
    } else if (xhr.status === 0 || xhr.status >= 500) {
      say("Switchboard is not answering; trying again…", false);
    }
  }

  function start() {
    panel = document.getElementById("case-panel");
    list = document.getElementById("case-messages");
    var initial = document.getElementById("case-feed");
    if (!panel || !list || !initial || !panel.getAttribute("data-updates")) return;
    source = node("span");
    source.hidden = true;
    panel.appendChild(source);
    source.addEventListener("htmx:afterRequest", answered);
    source.addEventListener("htmx:sendError", function () { busy = false; say("Switchboard is not answering; trying again…", false); });
    try {
      var data = JSON.parse(initial.textContent);
      data.first = true;
      apply(data);
    } catch (error) { /* nothing shown yet: the first poll fills it */ }
    document.getElementById("feed-resume").addEventListener("click", function () {
      lastActivity = Date.now();
      stopped = "";
      say("", false);
      poll(true);
    });
    ["keydown", "pointerdown", "scroll", "input"].forEach(function (name) {
      document.addEventListener(name, function () { lastActivity = Date.now(); }, { capture: true, passive: true });
    });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") poll(false); });
    // A reply was accepted: ask at once, so it shows with its first tick.
    document.body.addEventListener("case-panel-sent", function () { poll(false); });
    // The reply form comes back after every send: keep it locked while the Case or the window says so.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target && event.target.id === "reply-form") lockForm();
    });
    document.body.addEventListener("keydown", function (event) {
      // Ctrl+Enter (Cmd+Enter) in the reply box sends, as in most chat tools; Enter makes a new line.
      if (event.target && event.target.id === "reply-text" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        var send = document.getElementById("reply-send");
        if (send && !send.disabled) send.click();
      }
    });
    setInterval(function () { poll(); }, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
