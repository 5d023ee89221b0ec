/* Draw a designated hotspot's area on a map (the register's new and change forms).

   Click the map to add a corner; the polygon grows as you go. "Undo last corner", "Clear" and
   "Finish the polygon" are real buttons. Finishing closes the ring and writes it into the form's
   polygon box as a GeoJSON Polygon (RFC 7946: longitude, latitude; exterior ring anticlockwise;
   first corner repeated at the end). The server then checks it exactly as a pasted polygon, so
   there is one validated path and the same errors. Without JavaScript the box stays hidden and the
   page offers paste and upload only; keyboard users have those too.

   Why hand-written: Leaflet.draw is not shipped by any Python package we can install without
   Django (django-leaflet), and folium's Draw plugin loads it from a CDN, while the app serves all
   of its map assets itself and must work with no internet. Clicking corners is a small subset,
   written here on Leaflet core (served by the app from XStatic-Leaflet).
*/
(function () {
  "use strict";
  var box = document.getElementById("draw");
  var field = box && document.getElementById(box.dataset.field);
  if (!box || !field || !window.L) return;
  box.hidden = false;

  var map = L.map("draw-map", { doubleClickZoom: false, zoomSnap: 0.25 });
  box.leafletMap = map; // for the browser tests, which click at known places
  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution, maxZoom: 19 }).addTo(map);
  }
  var wards = L.geoJSON(JSON.parse(document.getElementById("draw-wards").textContent), {
    interactive: false, style: { color: "#1a1a1a", weight: 2, fill: false, dashArray: "6 4" },
    onEachFeature: function (f, layer) {
      // Ward names help find a place when there is no background map.
      layer.bindTooltip(f.properties.ward, { permanent: true, direction: "center", className: "draw-ward" });
    }
  });
  var areaBlock = document.getElementById("draw-area");
  var area = areaBlock && L.geoJSON(JSON.parse(areaBlock.textContent), {
    interactive: false, style: { color: "#1f5fbf", weight: 2, fillOpacity: 0.1 }
  });
  // The view first: Leaflet draws layers only on a map that has one.
  map.fitBounds((area || wards).getBounds());
  wards.addTo(map);
  if (area) area.addTo(map);
  var shape = L.polygon([], { interactive: false, color: "#b2182b", weight: 3, fillOpacity: 0.2 }).addTo(map);
  var dots = L.layerGroup().addTo(map);
  var buttons = {
    undo: document.getElementById("draw-undo"),
    clear: document.getElementById("draw-clear"),
    finish: document.getElementById("draw-finish")
  };
  var status = document.getElementById("draw-status");
  var corners = []; // L.LatLng, in the order clicked
  var finished = false;
  var written = ""; // what this script last wrote into the field

  function ring() {
    var out = corners.map(function (c) { return [+c.lng.toFixed(6), +c.lat.toFixed(6)]; });
    var twice = 0; // twice the signed area: positive when anticlockwise
    for (var i = 0; i < out.length; i++) {
      var a = out[i], b = out[(i + 1) % out.length];
      twice += a[0] * b[1] - b[0] * a[1];
    }
    if (twice < 0) out.reverse();
    out.push(out[0].slice());
    return out;
  }

  function show() {
    // Dashed and unfilled while drawing; solid and filled once finished.
    shape.setLatLngs(corners);
    shape.setStyle({ dashArray: finished ? null : "6 6", fill: finished });
    dots.clearLayers();
    corners.forEach(function (c) {
      L.circleMarker(c, { interactive: false, className: "draw-corner", radius: 5, color: "#b2182b", fillColor: "#fff", fillOpacity: 1 }).addTo(dots);
    });
    buttons.undo.disabled = corners.length === 0;
    buttons.clear.disabled = corners.length === 0;
    buttons.finish.disabled = finished || corners.length < 3;
    var n = corners.length + (corners.length === 1 ? " corner" : " corners");
    status.textContent = finished ? "Finished: a polygon of " + n + " is in the polygon box."
      : corners.length === 0 ? "No corners yet."
      : n + (corners.length < 3 ? ": a polygon needs at least 3." : ". Finish closes the polygon.");
  }

  function reopen() {
    if (finished && field.value === written) field.value = "";
    finished = false;
  }

  function finish() {
    if (corners.length < 3) return;
    finished = true;
    written = field.value = JSON.stringify({ type: "Polygon", coordinates: [ring()] });
    field.dispatchEvent(new Event("input", { bubbles: true }));
    show();
  }

  map.on("click", function (e) {
    if (finished) return; // Undo or Clear to change a finished polygon
    corners.push(e.latlng);
    show();
  });
  buttons.undo.addEventListener("click", function () { reopen(); corners.pop(); show(); });
  buttons.clear.addEventListener("click", function () { reopen(); corners = []; show(); });
  buttons.finish.addEventListener("click", finish);
  // A drawing of 3 or more corners that was not finished is finished when the form is sent.
  if (field.form) field.form.addEventListener("submit", function () { if (!finished) finish(); });

  // A polygon already in the box (the form shown again with an error) is shown finished.
  try {
    var given = JSON.parse(field.value || "null");
    var geom = given && given.type === "Feature" ? given.geometry : given;
    if (geom && geom.type === "Polygon" && geom.coordinates.length === 1) {
      corners = geom.coordinates[0].slice(0, -1).map(function (p) { return L.latLng(p[1], p[0]); });
      finished = corners.length >= 3;
      written = field.value;
    }
  } catch (err) { corners = []; }

  function fit() {
    map.invalidateSize();
    var bounds = corners.length ? L.latLngBounds(corners) : (area || wards).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
  }
  fit();
  show();
  var details = box.closest("details");
  if (details) details.addEventListener("toggle", function () { if (details.open) fit(); });
})();
