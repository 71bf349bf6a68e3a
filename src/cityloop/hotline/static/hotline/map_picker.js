/* The submit page's map picker: the city's own districts and streets drawn as vector shapes with the
 * vendored Leaflet (no tile server, so it works offline). A click, or "use my location", fills the
 * longitude and latitude inputs and the street select, which stay ordinary fields: without this script
 * the citizen types an address, picks a street or types the numbers. */
(function () {
  "use strict";
  var box = document.querySelector("[data-map-picker]");
  if (!box || !window.L || !window.fetch) return;
  var form = box.closest("form");
  var lonInput = form.querySelector("[name=lon]");
  var latInput = form.querySelector("[name=lat]");
  var streetSelect = form.querySelector("select[name=street]");
  var addressInput = form.querySelector("[name=address]");
  var status = box.querySelector("[data-map-status]");
  var streets = [];
  var places = [];
  var map = null;
  var marker = null;

  function ringContains(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function polygonContains(rings, x, y) {
    if (!ringContains(rings[0], x, y)) return false;
    for (var k = 1; k < rings.length; k++) if (ringContains(rings[k], x, y)) return false;
    return true;
  }

  function contains(geometry, x, y) {
    if (geometry.type === "Polygon") return polygonContains(geometry.coordinates, x, y);
    if (geometry.type === "MultiPolygon") {
      return geometry.coordinates.some(function (p) { return polygonContains(p, x, y); });
    }
    return false;
  }

  function streetAt(lon, lat) {
    for (var i = 0; i < streets.length; i++) if (contains(streets[i].geometry, lon, lat)) return streets[i];
    return null;
  }

  function round(value) { return Math.round(value * 1e6) / 1e6; }

  function changed(input) { input.dispatchEvent(new Event("change", { bubbles: true })); }

  function showPoint(lon, lat) {
    if (!map) return;
    if (marker) marker.setLatLng([lat, lon]);
    else marker = L.circleMarker([lat, lon], { radius: 8, color: "#b00020", weight: 3, fillOpacity: 0.6 }).addTo(map);
  }

  function pick(lon, lat) {
    lon = round(lon); lat = round(lat);
    lonInput.value = lon; latInput.value = lat;
    showPoint(lon, lat);
    var street = streetAt(lon, lat);
    if (streetSelect) {
      streetSelect.value = street ? street.properties.code : "";
      changed(streetSelect);
    }
    status.textContent = box.dataset.picked + " " + lon + ", " + lat + (street ? " · " + street.properties.name : " · " + box.dataset.noStreet);
    changed(lonInput); changed(latInput);
  }

  function fitBox(bbox) {
    if (map && bbox && bbox[0] != null) map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { maxZoom: 15 });
  }

  function draw(data) {
    var target = box.querySelector("[data-map]");
    map = L.map(target, { attributionControl: false, zoomControl: false, zoomSnap: 0.25, preferCanvas: false });
    // Leaflet's zoom buttons are named in English; the page gives their names in its language
    L.control.zoom({ zoomInTitle: box.dataset.zoomIn, zoomOutTitle: box.dataset.zoomOut }).addTo(map);
    var districts = L.geoJSON(data.districts, {
      interactive: false,
      style: { color: "#445", weight: 2, fillColor: "#dde3dd", fillOpacity: 0.5 },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(feature.properties.name, { permanent: true, direction: "center", className: "map-label" });
      },
    }).addTo(map);
    streets = data.streets.features;
    L.geoJSON(data.streets, {
      style: function (feature) {
        // the class names the street for the browser tests, which click inside a known street
        var style = { color: "#2a7a4b", weight: 1, fillColor: "#9fd3b0", fillOpacity: 0.35 };
        style.className = "map-street street-" + feature.properties.code;
        return style;
      },
      onEachFeature: function (feature, layer) { layer.bindTooltip(feature.properties.name, { sticky: true }); },
    }).addTo(map);
    places = data.places;
    var bounds = districts.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds); else fitBox(data.bounds);
    map.on("click", function (event) { pick(event.latlng.lng, event.latlng.lat); });
    var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
    if (isFinite(lon) && isFinite(lat)) showPoint(lon, lat);
  }

  // The citizen's own typing moves the map, never the point: a typed number is shown, a street or a
  // gazetteer name in the address zooms to that place.
  function typedPoint() {
    var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
    if (isFinite(lon) && isFinite(lat)) showPoint(lon, lat);
  }
  lonInput.addEventListener("input", typedPoint);
  latInput.addEventListener("input", typedPoint);
  if (streetSelect) {
    streetSelect.addEventListener("change", function (event) {
      if (!event.isTrusted) return;
      var code = streetSelect.value;
      places.forEach(function (p) { if (p.code === code) fitBox(p.bbox); });
    });
  }
  if (addressInput) {
    addressInput.addEventListener("change", function () {
      var text = addressInput.value.toLowerCase(), best = null;
      places.forEach(function (p) {
        if (p.name.length > 1 && text.indexOf(p.name.toLowerCase()) >= 0 && (!best || p.name.length > best.name.length)) best = p;
      });
      if (best) fitBox(best.bbox);
    });
  }

  var locate = box.querySelector("[data-locate]");
  if (navigator.geolocation) {
    locate.addEventListener("click", function () {
      status.textContent = box.dataset.locating;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          pick(position.coords.longitude, position.coords.latitude);
          if (map) map.setView([position.coords.latitude, position.coords.longitude], Math.max(map.getZoom(), 14));
        },
        function () { status.textContent = box.dataset.noLocation; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  } else {
    locate.hidden = true;
  }

  box.hidden = false;
  fetch(box.dataset.mapUrl, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(draw)
    .catch(function () { box.hidden = true; });
})();
