/* The map's basemap, fetched while the page's scripts load. plotly.js fetches a geo
   subplot's topojson only when it draws the map (the last thing the first screen waits
   for) and with XMLHttpRequest, which never reuses a <link rel="preload">. The index page
   names the file (dashboard/page/preload.py: data-topojson-name on its preload link);
   fetch() takes the preloaded body and hands it to plotly.js in PlotlyGeoAssets, where it
   looks before fetching. If the map draws first, plotly.js fetches it itself, as before. */
(function () {
  var links = document.querySelectorAll('link[rel="preload"][data-topojson-name]');
  if (!links.length || !window.fetch) {
    return;
  }
  var assets = (window.PlotlyGeoAssets = window.PlotlyGeoAssets || { topojson: {} });
  assets.topojson = assets.topojson || {};
  Array.prototype.forEach.call(links, function (link) {
    var name = link.getAttribute("data-topojson-name");
    fetch(link.href, { credentials: "same-origin", mode: "cors" })
      .then(function (response) {
        return response.ok ? response.json() : undefined;
      })
      .then(function (topojson) {
        if (topojson && assets.topojson[name] === undefined) {
          assets.topojson[name] = topojson;
        }
      })
      .catch(function () {});
  });
})();
