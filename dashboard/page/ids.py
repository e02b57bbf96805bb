"""Every component id of the page, in one place.

Components, callbacks and browser tests all name elements through these constants, so an
id is spelled once. Ids of details inside a card (``kpi-randomized-value``...) are built
by the card itself from its own id.
"""

from __future__ import annotations

URL = "url"
AS_OF = "as-of-date"
STATUS_FILTER = "status-filter"
SELECTION = "selected-sites"
CLEAR_SELECTION = "clear-selection"
SELECTION_TEXT = "selection-text"
ALERTS = "alerts"
KPIS = "kpi-cards"
AS_OF_TEXT = "as-of-text"
MAP = "site-map"
ACCRUAL = "accrual-chart"
BARS = "site-bars"
ACTIVATION = "site-activation"
GRID = "sites-grid"
GRID_COUNT = "sites-grid-count"
# Downloads: the snapshot (same file as the ``snapshot`` command) and the tables (the same
# files as the ``export`` command).
PDF_BUTTON = "download-pdf"
PNG_BUTTON = "download-png"
SNAPSHOT_DOWNLOAD = "download-snapshot"
SNAPSHOT_STATUS = "snapshot-status"
SNAPSHOT_BUSY = "snapshot-busy"
SITES_CSV = "export-sites-csv"
SITES_XLSX = "export-sites-xlsx"
SITES_DOWNLOAD = "download-sites"
ACCRUAL_CSV = "export-accrual-csv"
ACCRUAL_XLSX = "export-accrual-xlsx"
ACCRUAL_DOWNLOAD = "download-accrual"

#: Container of the print table (refreshed with the as-of date), see
#: :mod:`dashboard.page.components.print_table`.
PRINT_TABLE = "print-sites"
