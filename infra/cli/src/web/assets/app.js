// The sandbox pages' only script: forms marked data-ajax are sent in place, and every element
// with data-live="URL" is refreshed from URL once a second (replaced only when it changed).
// Without it the pages still work: forms post and redirect back.
(function () {
  "use strict";
  var PERIOD_MS = 1000;
  var busy = false;

  function refresh(element) {
    var url = element.getAttribute("data-live");
    return fetch(url, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || html === element.liveHtml) { return; }
        var active = document.activeElement;
        if (active && element.contains(active) && active.matches("input, textarea, select")) {
          return; // do not pull a field from under the person typing in it
        }
        element.liveHtml = html;
        element.innerHTML = html;
        var scrollers = element.matches("[data-scroll=bottom]") ? [element] : element.querySelectorAll("[data-scroll=bottom]");
        Array.prototype.forEach.call(scrollers, function (scroller) { scroller.scrollTop = scroller.scrollHeight; });
      })
      .catch(function () { /* the sandbox stopped; keep the page as it is */ });
  }

  function refreshAll() {
    var live = document.querySelectorAll("[data-live]");
    return Promise.all(Array.prototype.map.call(live, refresh));
  }

  function tick() {
    if (busy) { return; }
    busy = true;
    refreshAll().then(function () { busy = false; }, function () { busy = false; });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-ajax")) { return; }
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form, event.submitter));
    var buttons = form.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .catch(function () { /* shown by the next refresh, or not at all if the sandbox stopped */ })
      .then(function () {
        Array.prototype.forEach.call(form.querySelectorAll("[data-clear]"), function (field) { field.value = ""; });
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        var focus = form.querySelector("[data-clear]");
        if (focus) { focus.blur(); }
        return refreshAll();
      })
      .then(function () {
        var focus = form.isConnected && form.querySelector("[data-clear]");
        if (focus) { focus.focus(); }
      });
  });

  document.addEventListener("keydown", function (event) {
    // Enter sends a reply; Shift+Enter makes a new line.
    var field = event.target;
    if (event.key === "Enter" && !event.shiftKey && field.matches && field.matches("textarea[data-clear]")) {
      event.preventDefault();
      if (field.form && field.value.trim() !== "") { field.form.requestSubmit(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-scroll=bottom]"), function (element) {
      element.scrollTop = element.scrollHeight;
    });
    setInterval(tick, PERIOD_MS);
  });

  window.addEventListener("resize", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-scroll=bottom]"), function (element) {
      element.scrollTop = element.scrollHeight;
    });
  });
})();
