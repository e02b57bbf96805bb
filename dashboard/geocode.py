"""Geocode step: each site gets a point on the map (the facility when trustworthy, else its city).

``geocodes.csv`` holds one row per site::

    site_id, lat, lon, precision (facility|city), source (nominatim|gazetteer|manual),
    query, geocoded_at (UTC ISO 8601)

Where a point comes from, in order of trust:

* ``manual`` rows were typed by a person who checked the hospital; they are never
  overwritten, not even by ``--refresh``.
* ``nominatim`` rows are facility answers of a Nominatim server (geopy), kept as a cache:
  a site whose row was made for the same query is not asked again unless ``--refresh``.
* ``gazetteer`` rows are the city's point from the offline gazetteer
  (:mod:`dashboard.gazetteer`), used offline and whenever Nominatim cannot be trusted.

Registry facility names mislead geocoders ("Hôpitaux de Barbois" is Brabois in
Vandœuvre-lès-Nancy, "Robert Debré Hospital" of this trial is in Reims, not Paris), so a
facility answer farther than :data:`MAX_FACILITY_DISTANCE_KM` from the city's point is
rejected and the city point used instead: a wrong city never reaches the map. Service
faults (HTTP 429/5xx, timeouts, refused connections) never drop a row and never make the
command hang: the cached row or the city point is kept, and after
:data:`MAX_CONSECUTIVE_FAILURES` failures in a row (or at once on 429/403, the server asking
us to stop) no more requests are sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from . import __version__
from .datadir import DataPaths, atomic_write_text, utc_now_iso, write_lock
from .gazetteer import Place, country_code, lookup_city
from .registry_points import registry_places
from .sites import load_sites

GEOCODE_COLUMNS = ["site_id", "lat", "lon", "precision", "source", "query", "geocoded_at"]
PRECISIONS = ("facility", "city")
SOURCES = ("nominatim", "gazetteer", "manual", "registry")

#: A facility answer farther than this from its city's point is taken to be another place.
MAX_FACILITY_DISTANCE_KM = 25.0
#: Failed requests in a row after which the run stops asking the service.
MAX_CONSECUTIVE_FAILURES = 3
#: Identifies us to Nominatim, as its usage policy requires.
USER_AGENT = f"recruitment-dashboard/{__version__}"
PUBLIC_NOMINATIM_HOST = "nominatim.openstreetmap.org"
#: The public server's usage policy: at most one request per second.
PUBLIC_NOMINATIM_MIN_DELAY = 1.0

#: Nominatim classes of a place rather than a building: such an answer is a city point.
_PLACE_CLASSES = {"place", "boundary"}


class GeocodeError(ValueError):
    """geocodes.csv cannot be used, or the geocode command cannot run as asked."""


# --------------------------------------------------------------------------- the file
def parse_geocodes_csv(text: str, source: str) -> pd.DataFrame:
    """Read geocodes.csv strictly, naming the line and column of every problem.

    Site ids stay strings ("01"); lat/lon are floats (a blank stays NaN, for ``validate``
    to report); precision and source must be known words, because the map and the
    geocoder act on them (a manual row is protected, a city point is drawn as such).
    """
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GeocodeError(f"{source}: not a readable CSV file ({exc})") from exc
    missing = [c for c in GEOCODE_COLUMNS if c not in frame.columns]
    if missing:
        raise GeocodeError(f"{source}: missing column(s) {', '.join(missing)}")
    frame = frame[GEOCODE_COLUMNS].copy()
    for col in GEOCODE_COLUMNS:
        frame[col] = frame[col].astype(str).str.strip()
    errors: list[str] = []
    coords: dict[str, list[float]] = {"lat": [], "lon": []}
    limits = {"lat": 90.0, "lon": 180.0}
    for i, row in frame.iterrows():
        line = int(i) + 2
        if not row["site_id"]:
            errors.append(f"{source}: line {line}, column site_id: blank")
        for col in ("lat", "lon"):
            raw = row[col]
            try:
                value = float(raw) if raw else math.nan
            except ValueError:
                errors.append(f"{source}: line {line}, column {col}: {raw!r} is not a number")
                value = math.nan
            if not math.isnan(value) and not abs(value) <= limits[col]:
                errors.append(f"{source}: line {line}, column {col}: {raw} is out of range")
                value = math.nan
            coords[col].append(value)
        for col, allowed in (("precision", PRECISIONS), ("source", SOURCES)):
            if row[col].lower() not in allowed:
                errors.append(
                    f"{source}: line {line}, column {col}: {row[col]!r} is not one of "
                    f"{', '.join(allowed)}"
                )
    duplicated = frame.loc[frame["site_id"].duplicated() & (frame["site_id"] != ""), "site_id"]
    if len(duplicated):
        errors.append(f"{source}: duplicate site_id {', '.join(duplicated)}")
    if errors:
        raise GeocodeError("\n".join(errors))
    frame["lat"] = pd.Series(coords["lat"], index=frame.index, dtype="float64")
    frame["lon"] = pd.Series(coords["lon"], index=frame.index, dtype="float64")
    frame["precision"] = frame["precision"].str.lower()
    frame["source"] = frame["source"].str.lower()
    return frame.reset_index(drop=True)


def load_geocodes(paths: DataPaths) -> pd.DataFrame:
    """geocodes.csv of a data dir; an empty table when the dir has none yet."""
    if not paths.geocodes.exists():
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c in ("lat", "lon") else str) for c in GEOCODE_COLUMNS}
        )
    return parse_geocodes_csv(paths.geocodes.read_text(encoding="utf-8-sig"), str(paths.geocodes))


def _format_coordinate(value: float) -> str:
    return "" if value is None or math.isnan(value) else repr(round(float(value), 6))


def geocodes_to_csv(rows: list[dict[str, Any]]) -> str:
    """The CSV text of ``rows`` (coordinates to 6 decimals, about 0.1 m)."""
    frame = pd.DataFrame(rows, columns=GEOCODE_COLUMNS)
    frame["lat"] = [_format_coordinate(v) for v in frame["lat"]]
    frame["lon"] = [_format_coordinate(v) for v in frame["lon"]]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


# --------------------------------------------------------------------------- geometry
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km: how far a facility answer lies from its city."""
    radius = 6371.0088
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * radius * math.asin(min(1.0, math.sqrt(a)))


# --------------------------------------------------------------------------- sites
@dataclass(frozen=True)
class SiteQuery:
    """What is asked about one site; the query text is also the cache key."""

    site_id: str
    facility: str
    city: str
    country: str
    #: The registry's state/province ("" when none) and city point (None when none).
    state: str = ""
    point: tuple[float, float] | None = None

    @property
    def query(self) -> str:
        if self.state:
            return f"{self.facility}, {self.city}, {self.state}, {self.country}"
        return f"{self.facility}, {self.city}, {self.country}"

    def city_point(self) -> tuple[Place | None, str]:
        """The city's point and where it comes from: the registry's geoPoint when the
        record has one, else the gazetteer's place of that name in the state and country."""
        if self.point is not None:
            return Place(self.city, "", self.point[0], self.point[1], 0, 0), "registry"
        return lookup_city(self.city, self.country, self.state or None), "gazetteer"

    @property
    def label(self) -> str:
        return f"site {self.site_id} ({self.facility}, {self.city})"


def _row(
    site: SiteQuery, lat: float, lon: float, precision: str, source: str, when: str
) -> dict[str, Any]:
    return {
        "site_id": site.site_id,
        "lat": float(lat),
        "lon": float(lon),
        "precision": precision,
        "source": source,
        "query": site.query,
        "geocoded_at": when,
    }


# --------------------------------------------------------------------------- Nominatim
def nominatim_client(nominatim_url: str, timeout: float) -> Any:
    """A geopy Nominatim client for ``nominatim_url`` that never retries on its own.

    Scheme, host, port and path prefix come from the URL, so a self-hosted server or a
    test server on http://127.0.0.1:PORT works as well as the public one. geopy's
    urllib adapter is used because it sends exactly one HTTP request per call (the
    requests adapter would retry timeouts and refused connections behind our back).
    """
    from geopy.adapters import URLLibAdapter
    from geopy.geocoders import Nominatim

    parts = urlsplit(nominatim_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GeocodeError(
            f"--nominatim-url {nominatim_url!r}: expected http(s)://host[:port][/path]"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/search"):
        path = path[: -len("/search")]
    return Nominatim(
        domain=parts.netloc + path,
        scheme=parts.scheme,
        user_agent=USER_AGENT,
        timeout=timeout,
        adapter_factory=lambda proxies, ssl_context: URLLibAdapter(
            proxies=proxies, ssl_context=ssl_context
        ),
    )


class _Throttle:
    """At most one request per ``min_delay`` seconds, measured start to start."""

    def __init__(self, min_delay: float):
        self.min_delay = min_delay
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self.min_delay - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        self._last = time.monotonic()


def _describe_failure(exc: Exception, timeout: float) -> str:
    from geopy import exc as gexc

    cause = exc.__cause__
    status = getattr(cause, "status_code", None)
    if isinstance(exc, gexc.GeocoderRateLimited):
        return "HTTP 429 Too Many Requests (rate limited)"
    if isinstance(exc, gexc.GeocoderTimedOut) and status is None:
        return f"no answer within {timeout:g} s"
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {exc}"


def _stops_at_once(exc: Exception) -> bool:
    """429, 402 and 403 mean the server wants no more requests from us: stop now."""
    from geopy import exc as gexc

    return isinstance(
        exc,
        gexc.GeocoderQuotaExceeded
        | gexc.GeocoderInsufficientPrivileges
        | gexc.GeocoderAuthenticationFailure,
    )


@dataclass
class _Answer:
    lat: float
    lon: float
    is_place: bool
    display_name: str


class _ServiceFailure(Exception):
    """A request that got no usable answer from the service (its text says why)."""


class _OnlineSession:
    """One run's conversation with Nominatim: throttled, bounded, failures counted."""

    def __init__(self, client: Any, min_delay: float, timeout: float):
        self.client = client
        self.throttle = _Throttle(min_delay)
        self.timeout = timeout
        self.consecutive_failures = 0
        #: Why the session stopped sending requests; None while it still asks.
        self.stop_reason: str | None = None

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None

    def ask(
        self, query: str | dict[str, str], countrycode: str | None, **kwargs: Any
    ) -> _Answer | None:
        """One throttled request: the answer, or None when Nominatim found nothing.

        Raises :class:`_ServiceFailure` when the service failed; after too many failures in
        a row, or a request to stop (429/403), :attr:`stop_reason` is set and nothing more
        is sent.
        """
        from geopy import exc as gexc

        if self.stopped:
            raise _ServiceFailure("not queried, Nominatim stopped answering")
        self.throttle.wait()
        try:
            location = self.client.geocode(
                query,
                exactly_one=True,
                timeout=self.timeout,
                country_codes=countrycode.lower() if countrycode else None,
                **kwargs,
            )
        except (gexc.GeopyError, OSError, ValueError, TypeError, KeyError) as exc:
            # ValueError & co.: a malformed answer is a fault of the service, not a crash.
            self.consecutive_failures += 1
            if _stops_at_once(exc):
                self.stop_reason = "the server refuses further requests"
            elif self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                self.stop_reason = f"{self.consecutive_failures} failures in a row"
            raise _ServiceFailure(
                f"Nominatim failed: {_describe_failure(exc, self.timeout)}"
            ) from exc
        self.consecutive_failures = 0
        if location is None:
            return None
        raw = location.raw if isinstance(location.raw, dict) else {}
        place_class = raw.get("category") or raw.get("class")
        lat, lon = float(location.latitude), float(location.longitude)
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise _ServiceFailure(f"Nominatim gave an impossible point ({lat}, {lon})")
        return _Answer(lat, lon, place_class in _PLACE_CLASSES, str(location.address or ""))


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on stderr while querying (only on a terminal: logs stay clean)."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc="Geocoding",
        unit="site",
        file=sys.stderr,
        disable=total == 0 or not sys.stderr.isatty(),
        leave=False,
    )
    try:
        yield bar
    finally:
        bar.close()


# --------------------------------------------------------------------------- the step
@dataclass
class _Tally:
    queried: int = 0
    cached: int = 0
    manual: int = 0
    accepted: int = 0
    rejected: int = 0
    empty: int = 0
    failed: int = 0
    no_point: int = 0


def run_geocode(
    paths: DataPaths,
    *,
    offline: bool,
    refresh: bool,
    nominatim_url: str,
    min_delay: float,
    timeout: float,
    echo: Callable[[str], None],
) -> str:
    """Write geocodes.csv for every site of ``paths``; return a one-line summary.

    Rows the run cannot improve are kept (manual rows always, cached Nominatim answers
    unless ``refresh``); every other site is asked to Nominatim, or, offline, given its
    city's gazetteer point. Warnings (rejected answers, service faults, sites left without
    a point) go to ``echo``. The write lock is held for the whole run so that an import
    cannot change sites.csv under a geocoding in progress; the file is replaced atomically.
    """
    if not (min_delay >= 0 and math.isfinite(min_delay)):
        raise GeocodeError(f"--min-delay must be a number of seconds ≥ 0, got {min_delay}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise GeocodeError(f"--timeout must be a number of seconds > 0, got {timeout}")
    client = None
    if not offline:
        client = nominatim_client(nominatim_url, timeout)
        host = (urlsplit(nominatim_url.strip()).hostname or "").lower()
        if host == PUBLIC_NOMINATIM_HOST and min_delay < PUBLIC_NOMINATIM_MIN_DELAY:
            echo(
                f"Warning: {PUBLIC_NOMINATIM_HOST} allows one request per second; "
                f"using --min-delay {PUBLIC_NOMINATIM_MIN_DELAY:g}."
            )
            min_delay = PUBLIC_NOMINATIM_MIN_DELAY

    with write_lock(paths):
        sites = load_sites(paths)
        existing = load_geocodes(paths)
        old_rows: dict[str, dict[str, Any]] = {
            str(r["site_id"]): dict(r) for r in existing.to_dict(orient="records")
        }
        hints = registry_places(paths, sites)
        tally = _Tally()
        rows: dict[str, dict[str, Any]] = {}
        to_query: list[SiteQuery] = []
        now = utc_now_iso()

        for record in sites.to_dict(orient="records"):
            site = SiteQuery(*(str(record[c]) for c in ("site_id", "facility", "city", "country")))
            hint = hints.get(site.site_id)
            if hint is not None:
                point = (hint.lat, hint.lon) if hint.has_point else None
                site = dataclasses.replace(site, state=hint.state, point=point)
            old = old_rows.get(site.site_id)
            if old is not None and old["source"] == "manual":
                rows[site.site_id] = old
                tally.manual += 1
                if old["query"] != site.query:
                    echo(
                        f"Warning: {site.label}: kept the manual point entered for "
                        f"{old['query']!r}; check that it is still this hospital."
                    )
                continue
            same_query = old is not None and old["query"] == site.query
            # A registry point now in the record beats an older gazetteer guess.
            stale = site.point is not None and old is not None and old["source"] == "gazetteer"
            if (
                same_query
                and not stale
                and _has_point(old)
                and _reuse(old, offline=offline, refresh=refresh)
            ):
                rows[site.site_id] = old
                tally.cached += 1
                continue
            if offline:
                place, place_source = site.city_point()
                if place is not None:
                    rows[site.site_id] = _row(site, place.lat, place.lon, "city", place_source, now)
                else:
                    _no_point(site, old if same_query else None, rows, tally, echo)
                continue
            to_query.append(site)

        if to_query:
            assert client is not None
            _query_sites(to_query, client, min_delay, timeout, old_rows, rows, tally, echo, now)

        known = {str(s) for s in sites["site_id"]}
        orphans = [r for sid, r in old_rows.items() if sid not in known and r["source"] == "manual"]
        if orphans:
            echo(
                "Warning: geocodes.csv keeps manual row(s) for site id(s) "
                f"{', '.join(r['site_id'] for r in orphans)}, which sites.csv no longer has; "
                "delete or renumber them by hand."
            )
        ordered = [rows[str(s)] for s in sites["site_id"] if str(s) in rows] + orphans
        atomic_write_text(paths.geocodes, geocodes_to_csv(ordered))

    return _summary(ordered, tally, offline)


def _reuse(old: dict[str, Any], *, offline: bool, refresh: bool) -> bool:
    """Whether a row made for the site's current query is kept as it is.

    Online, only Nominatim answers are a cache (a gazetteer row is a fallback and is asked
    again); ``--refresh`` asks again anyway. Offline, nothing better than a Nominatim answer
    can be made, so it is always kept; ``--refresh`` only re-derives gazetteer rows.
    """
    if offline:
        return old["source"] == "nominatim" or not refresh
    return old["source"] == "nominatim" and not refresh


def _has_point(row: dict[str, Any]) -> bool:
    return not (pd.isna(row["lat"]) or pd.isna(row["lon"]))


def _no_point(
    site: SiteQuery,
    old: dict[str, Any] | None,
    rows: dict[str, dict[str, Any]],
    tally: _Tally,
    echo: Callable[[str], None],
) -> None:
    """Keep the old row of the same query if any; else warn that the site has no point."""
    if old is not None and _has_point(old):
        rows[site.site_id] = old
        return
    tally.no_point += 1
    echo(
        f"Warning: {site.label}: city not found in the offline gazetteer and no usable "
        "answer; no point written. Add a manual row to geocodes.csv."
    )


def _query_sites(
    to_query: list[SiteQuery],
    client: Any,
    min_delay: float,
    timeout: float,
    old_rows: dict[str, dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    tally: _Tally,
    echo: Callable[[str], None],
    now: str,
) -> None:
    """Ask Nominatim about each site, check each answer against its city, fall back safely."""
    from tqdm import tqdm

    with _progress(len(to_query)) as bar:

        def warn(message: str) -> None:
            if bar.disable:
                echo(message)
            else:
                with tqdm.external_write_mode(file=sys.stderr):
                    echo(message)

        session = _OnlineSession(client, min_delay, timeout)
        skipped: list[str] = []
        for site in to_query:
            if session.stopped:
                skipped.append(site.site_id)
                _fallback(site, old_rows.get(site.site_id), None, rows, tally, warn, now)
            else:
                _query_site(site, session, old_rows.get(site.site_id), rows, tally, warn, now)
                if session.stopped:
                    warn(f"Warning: stopped querying Nominatim ({session.stop_reason}).")
            bar.update(1)
        if skipped:
            warn(
                "Warning: not queried because Nominatim stopped answering: site(s) "
                f"{', '.join(skipped)} (cached or city points kept; run again later)."
            )


def _query_site(
    site: SiteQuery,
    session: _OnlineSession,
    old: dict[str, Any] | None,
    rows: dict[str, dict[str, Any]],
    tally: _Tally,
    warn: Callable[[str], None],
    now: str,
) -> None:
    """Geocode one site online; whatever happens, the site keeps the best trustworthy point."""
    city, city_source = site.city_point()
    code = country_code(site.country)
    tally.queried += 1
    try:
        answer = session.ask(site.query, code)
        if answer is not None and city is None:
            # No offline yardstick for this city: ask Nominatim where the city itself is.
            # A structured query: the state tells Rochester, Minnesota from Rochester, NY.
            where = {"city": site.city, "state": site.state, "country": site.country}
            town = session.ask(
                {k: v for k, v in where.items() if v}, code, featuretype="settlement"
            )
            if town is not None:
                city = Place(site.city, code or "", town.lat, town.lon, 0, 0)
                city_source = "nominatim"
    except _ServiceFailure as failure:
        tally.failed += 1
        _fallback(site, old, str(failure), rows, tally, warn, now, city, city_source)
        return
    if answer is None:
        tally.empty += 1
        _fallback(site, old, "Nominatim found nothing", rows, tally, warn, now, city, city_source)
        return
    if city is None:
        tally.rejected += 1
        reason = f"cannot check Nominatim's answer {answer.display_name!r} against the city"
        _fallback(site, old, reason, rows, tally, warn, now, city, city_source)
        return
    distance = haversine_km(answer.lat, answer.lon, city.lat, city.lon)
    if distance > MAX_FACILITY_DISTANCE_KM:
        tally.rejected += 1
        reason = (
            f"rejected Nominatim's answer {answer.display_name!r}, {distance:.0f} km from "
            f"{site.city} (limit {MAX_FACILITY_DISTANCE_KM:g} km)"
        )
        # The cached answer came from the same misleading name: the city point is safer.
        _fallback(site, None, reason, rows, tally, warn, now, city, city_source)
        return
    tally.accepted += 1
    precision = "city" if answer.is_place else "facility"
    rows[site.site_id] = _row(site, answer.lat, answer.lon, precision, "nominatim", now)


def _fallback(
    site: SiteQuery,
    old: dict[str, Any] | None,
    reason: str | None,
    rows: dict[str, dict[str, Any]],
    tally: _Tally,
    warn: Callable[[str], None],
    now: str,
    city: Place | None = None,
    city_source: str = "gazetteer",
) -> None:
    """Best point without a fresh answer: the cached answer, else the city, else none."""
    cached = old if old is not None and old["query"] == site.query else None
    if cached is not None and cached["source"] == "nominatim" and _has_point(cached):
        rows[site.site_id] = cached
        if reason:
            warn(f"Warning: {site.label}: {reason}; kept the cached point.")
        return
    if city is None and city_source == "gazetteer":
        city, city_source = site.city_point()
    if city is not None:
        rows[site.site_id] = _row(site, city.lat, city.lon, "city", city_source, now)
        if reason:
            warn(f"Warning: {site.label}: {reason}; using the city point.")
        return
    if reason:
        warn(f"Warning: {site.label}: {reason}.")
    _no_point(site, cached, rows, tally, warn)


def _summary(rows: list[dict[str, Any]], tally: _Tally, offline: bool) -> str:
    precision = pd.Series([r["precision"] for r in rows], dtype=object).value_counts()
    source = pd.Series([r["source"] for r in rows], dtype=object).value_counts()
    parts = [
        f"geocodes.csv: {len(rows)} site(s)",
        f"{int(precision.get('facility', 0))} facility / {int(precision.get('city', 0))} city",
        f"{int(source.get('manual', 0))} manual, {int(source.get('nominatim', 0))} nominatim, "
        f"{int(source.get('gazetteer', 0))} gazetteer, {int(source.get('registry', 0))} registry",
    ]
    if offline:
        parts.append("offline")
    else:
        parts.append(
            f"{tally.queried} queried ({tally.accepted} accepted, {tally.rejected} rejected, "
            f"{tally.empty} not found, {tally.failed} failed)"
        )
    parts.append(f"{tally.cached} cached")
    if tally.no_point:
        parts.append(f"{tally.no_point} without a point")
    return "; ".join(parts)


__all__ = [
    "GEOCODE_COLUMNS",
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_FACILITY_DISTANCE_KM",
    "PRECISIONS",
    "SOURCES",
    "USER_AGENT",
    "GeocodeError",
    "SiteQuery",
    "geocodes_to_csv",
    "haversine_km",
    "load_geocodes",
    "nominatim_client",
    "parse_geocodes_csv",
    "run_geocode",
]
