"""Component ids of the Data page, in one place (the dashboard page has its own)."""

from __future__ import annotations

UPLOAD = "data-upload"
UPLOAD_TOKEN = "data-upload-token"
UPLOAD_HELP = "data-upload-help"
PREVIEW = "data-preview"
CONFIRM = "data-confirm"
CANCEL = "data-cancel"
STATUS = "data-status"
DATA_VERSION = "data-version"
IN_SERVICE = "data-in-service"
SITES_GRID = "data-sites-grid"
SITES_STATUS = "data-sites-status"
HISTORY_GRID = "data-history-grid"
ROLE = "data-role"
