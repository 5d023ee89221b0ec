// The map frames' own script, served by the app.

// Keeps the numbered stops of a patrol map from piling up: after every zoom, a number that would
// cover one already placed moves out along a spiral; a small dot keeps marking the stop itself.
function hsSpreadStops(map) {
  var SIZE = 28;
  function spread() {
    var placed = [];
    function clash(x, y) {
      return placed.some(function (q) { return Math.abs(q[0] - x) < SIZE && Math.abs(q[1] - y) < SIZE; });
    }
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.Marker) || !layer.getElement) { return; }
      var icon = layer.getElement();
      var num = icon && icon.querySelector(".stop-num");
      if (!num) { return; }
      var p = map.latLngToLayerPoint(layer.getLatLng());
      var dx = 0, dy = 0;
      for (var k = 1; k <= 80 && clash(p.x + dx, p.y + dy); k++) {
        var angle = k * 0.9, r = SIZE * (0.9 + k / 8);
        dx = Math.round(r * Math.cos(angle));
        dy = Math.round(r * Math.sin(angle));
      }
      placed.push([p.x + dx, p.y + dy]);
      num.style.transform = "translate(" + dx + "px," + dy + "px)";
      num.classList.toggle("moved", dx !== 0 || dy !== 0);
    });
  }
  map.whenReady(spread);
  map.on("zoomend", spread);
}

// Printed, a map frame takes the paper's size: fit the map to what it shows again, so that the
// printout holds all of it (Leaflet keeps only the centre when its frame is resized).
function hsFitOnPrint(map, bounds) {
  function refit() {
    map.invalidateSize({ animate: false });
    map.fitBounds(bounds, { animate: false, padding: [8, 8] });
  }
  var printing = window.matchMedia ? window.matchMedia("print") : null;
  window.addEventListener("beforeprint", refit);
  window.addEventListener("afterprint", refit);
  if (printing && printing.addEventListener) {
    printing.addEventListener("change", function () { refit(); });
  }
  window.addEventListener("resize", function () { if (printing && printing.matches) { refit(); } });
}

// The loaded street network, fetched from the app and drawn faintly under the cells (in a pane
// below the overlays, never in the way of a click or a tooltip).
function hsStreets(map, url) {
  var pane = map.createPane("streets");
  pane.style.zIndex = 350;
  pane.style.pointerEvents = "none";
  fetch(url, { credentials: "same-origin" }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (data) {
    if (!data) { return; }
    L.geoJSON(data, { pane: "streets", interactive: false,
                      style: { color: "#8c8c8c", weight: 1, opacity: 0.55 } }).addTo(map);
  });
}
