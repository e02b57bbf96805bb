/* Sites grid, keyboard: Enter or Space on a focused row selects (or unselects) its site,
   as a click on the row does. The grid's cellKeyDown listener (dashboard/layout.py,
   sites_grid) passes the row's site id to the server as the grid's eventData. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

dagfuncs.siteKeyDown = function (params, setEventData) {
  var event = params.event;
  if (!event || !params.data || event.repeat) {
    return;
  }
  if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
    event.preventDefault(); // Space would scroll the page
    setEventData(params.data.site_id);
  }
};
