// Live updates: the list and detail pages listen to /ui/stream (server-sent events)
// and reload their live region when an incident changes; one connection per page.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region || !window.EventSource) { return; }
  var source = new EventSource(region.getAttribute("data-live"));
  var pending = null;
  source.addEventListener("changed", function () {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      if (window.htmx) {
        window.htmx.ajax("GET", window.location.pathname + window.location.search + (window.location.search ? "&" : "?") + "fragment=1", {target: region, swap: "innerHTML"});
      }
    }, 500);
  });
})();
