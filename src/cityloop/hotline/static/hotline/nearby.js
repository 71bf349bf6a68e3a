/* Nearby open requests, fetched when the chosen point or category changes (the map picker fires
 * "change" on the longitude and latitude inputs). The server renders the list, the same template the
 * no-JavaScript "show nearby requests" button gets; each item is a button of the form itself. */
(function () {
  "use strict";
  var box = document.querySelector("[data-nearby]");
  if (!box || !window.fetch) return;
  var form = box.closest("form");
  var list = box.querySelector("[data-nearby-list]");
  var fields = ["lon", "lat", "category"].map(function (name) { return form.querySelector("[name=" + name + "]"); });
  var timer = null, asked = "";

  function load() {
    var lon = fields[0].value.trim(), lat = fields[1].value.trim();
    if (!lon || !lat || !isFinite(+lon) || !isFinite(+lat)) return;
    var query = new URLSearchParams({ lon: lon, lat: lat, category: fields[2] ? fields[2].value : "" }).toString();
    if (query === asked) return;
    asked = query;
    fetch(box.dataset.url + "?" + query, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (query === asked) list.innerHTML = data.html; })
      .catch(function () { asked = ""; });
  }

  fields.forEach(function (field) {
    if (!field) return;
    field.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
  });
  load();
})();
