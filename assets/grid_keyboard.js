/* Sites grid, keyboard: Enter or Space on a focused row (or on one of its cells) selects
   or unselects its site, as a click on the row does. The site id reaches the server as
   the grid's eventData (dashboard/callbacks.py, update_selection). Capture phase: the
   grid's own handlers see Enter first otherwise. */
(function () {
  function onKeyDown(event) {
    if (event.key !== "Enter" && event.key !== " " && event.key !== "Spacebar") {
      return;
    }
    var target = event.target;
    if (!target || !target.closest || event.repeat) {
      return;
    }
    if (!target.closest("#sites-grid") || target.closest(".ag-header, input, button, a")) {
      return;
    }
    var row = target.closest(".ag-row[row-id]");
    if (!row || !window.dash_clientside || !window.dash_clientside.set_props) {
      return;
    }
    event.preventDefault(); // Space would scroll the page
    event.stopPropagation();
    window.dash_clientside.set_props("sites-grid", {
      eventData: { data: row.getAttribute("row-id"), timestamp: Date.now() },
    });
  }
  document.addEventListener("keydown", onKeyDown, true);
})();
