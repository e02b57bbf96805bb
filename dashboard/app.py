"""App factory: ``create_app(data_dir)`` builds the Dash app that serves the dashboard.

Everything the page loads is served by the app itself (Bootstrap CSS, the map's topojson,
Dash's and the grid's scripts): no request leaves for another host, so the dashboard works
on an isolated hospital network. Data are read through one :class:`DataStore` per app, on
every page load and callback, so replacing files in the data dir shows on the next reload.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dash

from .basemap import install_basemap_route
from .bind_guard import install_bind_guard
from .compression import enable_compression
from .data_page import PATH as DATA_PAGE_PATH
from .data_page import install_data_page
from .health import data_health
from .page import callbacks
from .page.accessibility import INDEX_STRING
from .page.forecast_process import ForecastProcess, forecast_process_from_environment
from .page.layout import PageCache, serve_layout
from .page.preload import install_preloads
from .page.replies import OutputsCache
from .page.shared_replies import SharedReplies, adopt
from .page.view_model import NumbersCache
from .page.warmup import Warmer, settings_name, warm_up_from_environment
from .pending_uploads import PendingUploads, default_upload_dir
from .roles import editors_from_environment, install_origin_check, install_roles
from .security import Auth, install_security, load_auth
from .store import DataStore, TrialData


#: Default of ``create_app(auth=...)``: read the basic-auth users from the environment.
class _FromEnvironment(enum.Enum):
    FROM_ENVIRONMENT = "from the environment"


FROM_ENVIRONMENT = _FromEnvironment.FROM_ENVIRONMENT

#: Largest request body accepted (callback posts hold dates, filters and site ids).
MAX_REQUEST_BYTES = 1_000_000

#: Repo-level assets folder: CSS, the basemap topojson files, licences.
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"

#: The tabs between the dashboard and the Data page, outside the page's components (so the
#: dashboard's layout is untouched); ``controls``: hidden in the PDF and the PNG snapshot.
NAV_HTML = (
    '<nav class="nav nav-tabs app-nav controls">'
    '<a class="nav-link active" aria-current="page" href="./">Dashboard</a>'
    '<a class="nav-link" href="data/">Data</a></nav>'
)


def id_skeleton(layout_value: Any) -> dash.html.Div:
    """Every component of ``layout_value`` that has an id, empty: what Dash's renderer
    needs to check callbacks against (ids and component types), without the page's data."""
    components = [layout_value, *(c for c in layout_value._traverse() if hasattr(c, "_type"))]
    skeleton = []
    for component in components:
        ident = getattr(component, "id", None)
        if ident is not None:
            skeleton.append(type(component)(id=ident))
    return dash.html.Div(skeleton)


def create_app(
    data_dir: Path | str,
    as_of: dt.date | None = None,
    *,
    auth: Auth | None | _FromEnvironment = FROM_ENVIRONMENT,
    forecast_paths: int | None = None,
    editors: Iterable[str] | object = FROM_ENVIRONMENT,
    upload_dir: Path | None = None,
    warm_up: bool | None = None,
    forecast_process: bool | None = None,
) -> dash.Dash:
    """A new Dash app over ``data_dir``; ``as_of`` fixes the default date (else the cut-off).

    Security headers, the public ``/health`` route and basic auth are installed by
    :func:`dashboard.security.install_security`. ``auth`` defaults to what the environment
    configures (:func:`dashboard.security.load_auth`: ``$RECRUITMENT_DASHBOARD_HTPASSWD`` or
    ``$RECRUITMENT_DASHBOARD_AUTH``; none: no auth); pass an :class:`Auth` or None to decide.
    ``forecast_paths``: simulated paths of the page's forecast (default 10,000); tests that
    draw hundreds of generated trials use fewer.
    ``editors``: users who may change the data on the Data page (:mod:`dashboard.roles`;
    default ``$RECRUITMENT_DASHBOARD_EDITORS``). ``upload_dir``: where uploads wait for
    confirmation (:mod:`dashboard.pending_uploads`; default a private temporary directory).
    ``warm_up``: compute the 12 recent weekly as-of dates in the background after start and
    after each data change (:mod:`dashboard.page.warmup`; default
    ``$RECRUITMENT_DASHBOARD_WARM_UP``, on unless 0). ``forecast_process``: run the page's
    forecast in a companion process beside the counts and figures
    (:mod:`dashboard.page.forecast_process`; default
    ``$RECRUITMENT_DASHBOARD_FORECAST_PROCESS``, on unless 0).
    """
    if auth is FROM_ENVIRONMENT:
        auth = load_auth()
    if editors is FROM_ENVIRONMENT:
        editors = editors_from_environment()
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS_DIR),
        external_stylesheets=[],
        external_scripts=[],
        serve_locally=True,
        title="Recruitment dashboard",
        update_title=None,  # type: ignore[arg-type]  # None is documented (no "Updating..." title); the stub says str
        assets_ignore=r"data-page\.js",  # the Data page's script
        compress=False,  # compression set up by enable_compression (static bodies cached)
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    # lang="en", skip link, one contentinfo landmark; the tabs to the Data page after the skip link
    app.index_string = INDEX_STRING.replace("{%app_entry%}", NAV_HTML + "{%app_entry%}")
    store = DataStore(data_dir)
    companion = (
        forecast_process_from_environment() if forecast_process is None else forecast_process
    )
    forecasts = ForecastProcess(data_dir, forecast_paths, enabled=companion)
    store.listeners.append(forecasts.prepare)  # the companion loads each new version
    # No runner yet: the layouts built below are forecast here, so that a gunicorn master
    # under --preload (which builds them and serves nothing) never starts a companion.
    cache = NumbersCache(forecast_paths=forecast_paths)
    shared = SharedReplies(data_dir, settings_name(forecast_paths))
    warm = warm_up_from_environment() if warm_up is None else warm_up
    outputs = OutputsCache()

    def adopt_warmed(data: TrialData, days: list[dt.date]) -> None:
        if store.get() is data:  # still the served version
            adopt(shared, outputs, data, days, store.errors)

    warmer = Warmer(data_dir, shared, forecast_paths, as_of, enabled=warm, on_warm=adopt_warmed)
    store.listeners.append(warmer.ensure)  # at start (first load) and on each new version
    topojson_url = app.get_asset_url("topojson/")
    pages = PageCache()

    def serve() -> dash.html.Div:
        return serve_layout(store, as_of, topojson_url=topojson_url, cache=cache, pages=pages)

    # Dash would embed the whole first page (figures, grid rows: ~130 kB at 46 sites) in
    # every index HTML as its validation layout; the ids and component types suffice.
    install_basemap_route(app.server, ASSETS_DIR, topojson_url)
    app.validation_layout = id_skeleton(serve())  # type: ignore[assignment]  # Dash declares it None-typed
    app.layout = serve
    install_preloads(app, serve)  # what the first screen needs, fetched with the scripts
    cache.runner = forecasts  # requests: the companion forecasts (when off: it submits nothing)
    callbacks.register(
        app,
        store,
        default_as_of=as_of,
        cache=cache,
        outputs=outputs,
        shared=shared,
        on_miss=warmer.ensure,
    )
    install_roles(app.server, auth_on=auth is not None, editors=editors)  # type: ignore[arg-type]
    install_origin_check(app.server, DATA_PAGE_PATH)
    uploads = PendingUploads(
        upload_dir or default_upload_dir(Path(data_dir)), forbidden=(Path(data_dir), ASSETS_DIR)
    )
    install_data_page(app, store, uploads, assets_dir=ASSETS_DIR)
    install_security(app, auth=auth, health_check=lambda: data_health(store))
    install_bind_guard(app, auth)  # the bind refusal of `serve`, for any WSGI server
    enable_compression(app.server)
    app.server.config["RECRUITMENT_DASHBOARD_DATA_DIR"] = str(Path(data_dir))
    # Callback bodies are a few kB; a larger one is refused (413) before it is read.
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app._dashboard_store = store  # type: ignore[attr-defined]  # for tests and tools
    app._dashboard_warmer = warmer  # type: ignore[attr-defined]  # for tests and tools
    app._dashboard_forecasts = forecasts  # type: ignore[attr-defined]  # for tests and tools
    return app
