// Live updates: the list and an incident's page listen to /ui/stream (server-sent
// events, one connection per page) and reload their live region when an incident
// changes; an incident's page only when it is that incident.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region || !window.EventSource) { return; }
  var only = region.getAttribute("data-incident");
  var source = new EventSource(region.getAttribute("data-live"));
  var pending = null;
  source.addEventListener("changed", function (event) {
    var ids = [];
    try { ids = JSON.parse(event.data); } catch (e) { return; }
    if (only && ids.indexOf(Number(only)) === -1) { return; }
    if (pending || !window.htmx) { return; }
    // a selection for a bulk action is not thrown away by a refresh
    if (region.querySelector("input[type=checkbox]:checked")) { return; }
    pending = setTimeout(function () {
      pending = null;
      var url = window.location.pathname + window.location.search;
      url += (window.location.search ? "&" : "?") + "fragment=1";
      window.htmx.ajax("GET", url, {target: region, swap: "innerHTML"});
    }, 300);
  });
})();
