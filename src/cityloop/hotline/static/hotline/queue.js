/* Keyboard for the dispatch queue (issue 17 #3): J or ↓ moves to the next request, K or ↑ to the
 * previous one, A or Enter accepts the suggestion of the one in hand, O opens it to choose other
 * units. The queue comes back after an accept with the next request in hand. Without this script
 * the first suggestion still answers Alt+Shift+A (accesskey) and every button is a plain form. */
(function () {
  "use strict";

  function run() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tr[data-request]"));
    if (!rows.length) return;
    var help = document.querySelector("[data-queue-keys]");
    if (help) help.hidden = false;
    var current = Math.max(0, rows.findIndex(function (r) { return r.querySelector("button[data-shortcut]"); }));

    function show(i) {
      rows[current].classList.remove("current");
      rows[current].removeAttribute("aria-current");
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows[current].classList.add("current");
      rows[current].setAttribute("aria-current", "true");
      var target = rows[current].querySelector("button[name=accept]") || rows[current].querySelector("a");
      if (target) target.focus({ preventScroll: true });
      rows[current].scrollIntoView({ block: "nearest" });
    }

    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select") return;
      var key = event.key.toLowerCase();
      var row = rows[current];
      if (key === "j" || key === "arrowdown") show(current + 1);
      else if (key === "k" || key === "arrowup") show(current - 1);
      else if (key === "a") {
        var accept = row.querySelector("button[name=accept]");
        if (!accept) return;
        accept.click();
      } else if (key === "o") {
        var link = row.querySelector("a[data-open]");
        if (link) window.location.href = link.href;
      } else return;
      event.preventDefault();
    });
    show(current);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
