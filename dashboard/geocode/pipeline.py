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
  (:mod:`dashboard.geocode.gazetteer`), used offline and whenever Nominatim cannot be trusted.

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
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from ..datadir import DataPaths, utc_now_iso, write_lock
from ..registry_points import registry_places
from ..sites import load_sites
from .gazetteer import Place, country_code, lookup_city
from .geocodes import GeocodeError, load_geocodes, write_geocodes
from .nominatim import (
    PUBLIC_NOMINATIM_HOST,
    PUBLIC_NOMINATIM_MIN_DELAY,
    OnlineSession,
    ServiceFailure,
    nominatim_client,
)

#: A facility answer farther than this from its city's point is taken to be another place.
MAX_FACILITY_DISTANCE_KM = 25.0


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
            str(r["site_id"]): {str(k): v for k, v in r.items()}
            for r in existing.to_dict(orient="records")
        }
        hints = registry_places(paths, sites)
        tally = _Tally()
        rows: dict[str, dict[str, Any]] = {}
        to_query: list[SiteQuery] = []
        now = utc_now_iso()

        for record in sites.to_dict(orient="records"):
            site = SiteQuery(
                str(record["site_id"]),
                str(record["facility"]),
                str(record["city"]),
                str(record["country"]),
            )
            hint = hints.get(site.site_id)
            if hint is not None:
                point = None
                if hint.has_point and hint.lat is not None and hint.lon is not None:
                    point = (hint.lat, hint.lon)
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
                old is not None
                and same_query
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
        write_geocodes(paths, ordered)

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

        session = OnlineSession(client, min_delay, timeout)
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
    session: OnlineSession,
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
    except ServiceFailure as failure:
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
