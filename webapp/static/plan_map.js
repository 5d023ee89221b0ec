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
