"""Metrics step: every count the product shows, as of one date. The single place that counts.

Definitions:
- screened = patients with screening_date ≤ as_of;
- screen_failed = status SCREEN_FAILED and screening_date ≤ as_of;
- randomized = randomization_date ≤ as_of, whatever the later status;
- enrolling site = a site with ≥ 1 randomized by as_of.
Rates are per month of 30.4375 days (365.25 / 12).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cumulative import CountsIndex, daily_cumulative, ns_of
from .dates import STALE_CUTOFF_DAYS as STALE_CUTOFF_DAYS  # re-exported: the one threshold
from .dates import DateLike as DateLike  # re-exported: forecast/, serving, snapshot use it
from .dates import as_of_warnings, iso, optional_date
from .dates import to_date as to_date  # re-exported likewise
from .registry import Trial
from .site_counts import MONTH_DAYS as MONTH_DAYS  # re-exported: the one definition
from .site_counts import NAT_NS, count_statuses, site_facts
from .site_counts import RATE_WINDOW_DAYS as RATE_WINDOW_DAYS
from .site_counts import REGISTRY_LAG_STATUSES as REGISTRY_LAG_STATUSES
from .site_counts import counts_index as counts_index
from .site_counts import site_table as site_table

WEEK_DAYS = 7


def _ts(value: DateLike) -> pd.Timestamp:
    return pd.Timestamp(to_date(value))


@dataclass(frozen=True)
class Counts:
    screened: int
    screen_failed: int
    randomized: int

    @property
    def screen_fail_percent(self) -> float | None:
        return None if self.screened == 0 else 100.0 * self.screen_failed / self.screened


def counts(enrollment: pd.DataFrame, as_of: DateLike, index: CountsIndex | None = None) -> Counts:
    """Totals as of a date; with ``index`` (:func:`counts_index` of the same frame), by
    bisection instead of filtering."""
    cut = _ts(as_of)
    if index is not None:
        cut_ns = ns_of(cut)
        return Counts(
            screened=index.screened.total(cut_ns),
            screen_failed=index.screen_failed.total(cut_ns),
            randomized=index.randomized.total(cut_ns),
        )
    screened_mask = enrollment["screening_date"] <= cut
    return Counts(
        screened=int(screened_mask.sum()),
        screen_failed=int((screened_mask & (enrollment["status"] == "SCREEN_FAILED")).sum()),
        randomized=int((enrollment["randomization_date"] <= cut).sum()),
    )


def percent_of_target(randomized: int, target: int) -> float | None:
    return None if target <= 0 else 100.0 * randomized / target


def accrual_series(
    enrollment: pd.DataFrame, start: DateLike, as_of: DateLike, index: CountsIndex | None = None
) -> pd.DataFrame:
    """Daily cumulative screened and randomized from the trial start to as_of (inclusive)."""
    start_ts, cut = _ts(start), _ts(as_of)
    if cut < start_ts:
        return pd.DataFrame(
            {"date": pd.Series(dtype="datetime64[ns]"), "screened": [], "randomized": []}
        )
    days = pd.date_range(start_ts, cut, freq="D")
    out = pd.DataFrame({"date": days})
    if index is not None:
        days_ns = days.as_unit("ns").asi8
        out["screened"] = daily_cumulative(index.screened, days_ns)
        out["randomized"] = daily_cumulative(index.randomized, days_ns)
        return out
    for col, date_col in (("screened", "screening_date"), ("randomized", "randomization_date")):
        dates = enrollment[date_col].dropna()
        before = int((dates < start_ts).sum())
        daily = dates[(dates >= start_ts) & (dates <= cut)].value_counts()
        out[col] = daily.reindex(days, fill_value=0).cumsum().to_numpy() + before
    return out


@dataclass(frozen=True)
class Pace:
    """Where accrual stands against the plan, in rates a PM compares at a glance."""

    as_of: dt.date
    randomized: int
    remaining: int
    current_rate_per_month: float
    required_rate_per_month: float | None
    required_rate_lpi_per_month: float | None
    days_to_completion: int
    days_to_last_patient_in: int | None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["as_of"] = self.as_of.isoformat()
        return out


def _required_rate(remaining: int, days_left: int) -> float | None:
    if remaining <= 0:
        return 0.0
    if days_left <= 0:
        return None  # no time left: no finite rate reaches the target
    return remaining / (days_left / MONTH_DAYS)


def pace(
    trial: Trial, enrollment: pd.DataFrame, as_of: DateLike, index: CountsIndex | None = None
) -> Pace:
    cut = to_date(as_of)
    randomized = counts(enrollment, cut, index).randomized
    window_start = pd.Timestamp(cut - dt.timedelta(days=RATE_WINDOW_DAYS))
    if index is not None:
        recent = randomized - index.randomized.total(ns_of(window_start))
    else:
        recent = (
            (enrollment["randomization_date"] > window_start)
            & (enrollment["randomization_date"] <= pd.Timestamp(cut))
        ).sum()
    window_days = min(RATE_WINDOW_DAYS, max((cut - trial.start_date).days, 1))
    remaining = max(trial.target - randomized, 0)
    days_to_completion = (trial.planned_completion_date - cut).days
    lpi = trial.last_patient_in_date
    days_to_lpi = None if lpi is None else (lpi - cut).days
    return Pace(
        as_of=cut,
        randomized=randomized,
        remaining=remaining,
        current_rate_per_month=float(recent) / (window_days / MONTH_DAYS),
        required_rate_per_month=_required_rate(remaining, days_to_completion),
        required_rate_lpi_per_month=None
        if days_to_lpi is None
        else _required_rate(remaining, days_to_lpi),
        days_to_completion=days_to_completion,
        days_to_last_patient_in=days_to_lpi,
    )


def status_counts(sites: pd.DataFrame, index: CountsIndex | None = None) -> dict[str, int]:
    """Sites per ClinicalTrials.gov status (only statuses present, in canonical order).
    ``index``: :func:`counts_index` of the data version, which then keeps them."""
    facts = site_facts(sites, index) if index is not None else None
    return dict(facts.status_counts) if facts is not None else count_statuses(sites["status"])


@dataclass(frozen=True)
class WeekSite:
    """A site that randomized (``randomized`` patients) or was activated in the week."""

    site_id: str
    facility: str
    city: str | None
    randomized: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"site_id": self.site_id, "facility": self.facility}
        out["city"] = self.city
        if self.randomized is not None:
            out["randomized"] = self.randomized
        return out


def frame_rows(frame: pd.DataFrame) -> Iterator[Any]:
    """``frame.itertuples()``: one named tuple per row. Typed ``Any``: a frame's cells carry
    no static type (the site table's columns are checked when the data dir is loaded)."""
    return iter(frame.itertuples())


def _facility_city(names: pd.DataFrame, site_id: Any) -> tuple[Any, Any]:
    """A site's facility and city from the sites frame indexed by site id."""
    return names.at[site_id, "facility"], names.at[site_id, "city"]


def _week_sites(names: pd.DataFrame, week_sites: pd.Series, unique: bool) -> tuple[WeekSite, ...]:
    """The sites that randomized in the week, by site id; ``unique``: the site ids are
    (then looked up in two dicts: ``.at`` per site costs ~30 ms for 500 sites)."""
    if not unique:
        return tuple(
            WeekSite(str(sid), *_facility_city(names, sid), int(n))
            for sid, n in week_sites.sort_index().items()
            if sid in names.index
        )
    ids = names.index.tolist()
    facility = dict(zip(ids, names["facility"].tolist(), strict=True))
    city = dict(zip(ids, names["city"].tolist(), strict=True))
    return _week_sites_by_id(facility, city, week_sites)


def _week_sites_by_id(
    facility: dict[Any, Any], city: dict[Any, Any], week_sites: pd.Series
) -> tuple[WeekSite, ...]:
    """The sites that randomized in the week, in site-id order, named from the two dicts
    (site id → facility, city); ids the dicts do not hold are left out."""
    return tuple(
        WeekSite(str(sid), facility[sid], city[sid], int(n))
        for sid, n in week_sites.sort_index().items()
        if sid in facility
    )


@dataclass(frozen=True)
class StatusChange:
    """A registry status change of one site, dated by the day it was imported; a site new
    to the registry has no ``before``."""

    date: dt.date
    site_id: str
    facility: str | None
    city: str | None
    before: str | None
    after: str | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> StatusChange:
        return cls(
            date=to_date(event["date"]),
            site_id=str(event.get("site_id")),
            facility=event.get("facility"),
            city=event.get("city"),
            before=event.get("from"),
            after=event.get("to"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "site_id": self.site_id,
            "facility": self.facility,
            "city": self.city,
            "from": self.before,
            "to": self.after,
        }


@dataclass(frozen=True)
class WeekChanges:
    """What changed in the seven days (since, as_of]: count deltas and the sites that moved."""

    since: dt.date
    randomized: int
    screened: int
    screen_failed: int
    sites_enrolling: int
    sites_recruiting: int
    sites_randomizing_in_week: tuple[WeekSite, ...]
    sites_activated_in_week: tuple[WeekSite, ...]
    status_changes_in_week: tuple[StatusChange, ...]

    @property
    def has_changes(self) -> bool:
        return bool(
            self.randomized
            or self.screened
            or self.sites_enrolling
            or self.sites_recruiting
            or self.sites_randomizing_in_week
            or self.sites_activated_in_week
            or self.status_changes_in_week
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "randomized": self.randomized,
            "screened": self.screened,
            "screen_failed": self.screen_failed,
            "sites_enrolling": self.sites_enrolling,
            "sites_recruiting": self.sites_recruiting,
            "sites_randomizing_in_week": [s.to_json() for s in self.sites_randomizing_in_week],
            "sites_activated_in_week": [s.to_json() for s in self.sites_activated_in_week],
            "status_changes_in_week": [e.to_json() for e in self.status_changes_in_week],
        }


def week_changes(
    sites: pd.DataFrame,
    enrollment: pd.DataFrame,
    as_of: DateLike,
    status_events: list[dict[str, Any]] | tuple[dict[str, Any], ...] | None = None,
    index: CountsIndex | None = None,
) -> WeekChanges:
    """What changed in the 7 days up to as_of: count deltas and the sites that moved.

    ``status_events`` are registry status changes dated by the day they were imported
    (``TrialData.status_events``); those in (as_of − 7, as_of] are listed.
    """
    cut = to_date(as_of)
    before = cut - dt.timedelta(days=WEEK_DAYS)
    now_c, then_c = counts(enrollment, cut, index), counts(enrollment, before, index)
    if index is not None:
        now_ns, then_ns = ns_of(cut), ns_of(before)
        enrolling = index.sites_enrolling(now_ns) - index.sites_enrolling(then_ns)
        n = index.per_site(index.randomized, now_ns) - index.per_site(index.randomized, then_ns)
        moved = np.flatnonzero(n > 0)
        week_sites = pd.Series(n[moved], index=index.site_ids[moved], dtype=np.int64)
    else:
        now_by_site = enrollment[enrollment["randomization_date"] <= pd.Timestamp(cut)]
        then_by_site = enrollment[enrollment["randomization_date"] <= pd.Timestamp(before)]
        enrolling = now_by_site["site_id"].nunique() - then_by_site["site_id"].nunique()
        in_week = now_by_site[now_by_site["randomization_date"] > pd.Timestamp(before)]
        week_sites = in_week.groupby("site_id").size()
    facts = site_facts(sites, index) if index is not None else None
    if facts is not None:  # read once per data version, not from the frame on each date
        act = facts.activation_ns
        opened = np.flatnonzero((act != NAT_NS) & (act > ns_of(before)) & (act <= ns_of(cut)))
        activated_sites = tuple(
            WeekSite(facts.ids[i], facts.facility[i], facts.city[i]) for i in opened
        )
        randomizing = _week_sites_by_id(facts.facility_by_id, facts.city_by_id, week_sites)
    else:
        names = sites.set_index("site_id")
        activated = sites[
            sites["activation_date"].notna()
            & (sites["activation_date"] > pd.Timestamp(before))
            & (sites["activation_date"] <= pd.Timestamp(cut))
        ]
        activated_sites = tuple(
            WeekSite(r.site_id, r.facility, r.city) for r in frame_rows(activated)
        )
        randomizing = _week_sites(names, week_sites, index is not None)
    return WeekChanges(
        since=before,
        randomized=now_c.randomized - then_c.randomized,
        screened=now_c.screened - then_c.screened,
        screen_failed=now_c.screen_failed - then_c.screen_failed,
        sites_enrolling=int(enrolling),
        sites_recruiting=len(activated_sites),
        sites_randomizing_in_week=randomizing,
        sites_activated_in_week=activated_sites,
        status_changes_in_week=tuple(
            StatusChange.from_event(e)
            for e in (status_events or [])
            if before.isoformat() < e["date"] <= cut.isoformat()
        ),
    )


def _days(column: pd.Series) -> list[dt.date | None]:
    """A date column as dates, None where missing (:func:`optional_date`, all at once)."""
    if pd.api.types.is_datetime64_dtype(column.dtype):
        return column.to_numpy(dtype="datetime64[D]").tolist()
    return [optional_date(v) for v in column]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


@dataclass(frozen=True)
class TrialFacts:
    """The registry facts a summary repeats, so it reads on its own."""

    nct_id: str
    title: str
    acronym: str | None
    sponsor: str
    target: int
    start_date: dt.date
    planned_completion_date: dt.date
    display_name: str
    last_patient_in_date: dt.date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "nct_id": self.nct_id,
            "title": self.title,
            "acronym": self.acronym,
            "sponsor": self.sponsor,
            "target": self.target,
            "start_date": self.start_date.isoformat(),
            "planned_completion_date": self.planned_completion_date.isoformat(),
            "display_name": self.display_name,
            "last_patient_in_date": iso(self.last_patient_in_date),
        }


@dataclass(frozen=True)
class SiteCounts:
    """Sites in the registry record, by status, and how many have randomized."""

    total: int
    by_status: dict[str, int]
    enrolling: int

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "by_status": dict(self.by_status), "enrolling": self.enrolling}


@dataclass(frozen=True)
class SiteSummary:
    """One site's counts as of the date (aggregates only, never a patient)."""

    site_id: str
    facility: str
    city: str | None
    status: str
    lat: float | None
    lon: float | None
    geocode_precision: str | None
    screened: int
    randomized: int
    first_randomization: dt.date | None
    last_randomization: dt.date | None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["first_randomization"] = iso(self.first_randomization)
        out["last_randomization"] = iso(self.last_randomization)
        return out


@dataclass(frozen=True)
class Summary:
    """Where recruitment stands as of one date: what ``summary --json`` prints and the
    dashboard shows."""

    trial: TrialFacts
    as_of: dt.date
    data_cutoff: dt.date | None
    synthetic: bool
    randomized: int
    screened: int
    screen_failed: int
    screen_fail_percent: float | None
    percent_of_target: float | None
    sites: SiteCounts
    pace: Pace
    per_site: tuple[SiteSummary, ...]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "trial": self.trial.to_json(),
            "as_of": self.as_of.isoformat(),
            "data_cutoff": self.data_cutoff.isoformat() if self.data_cutoff else None,
            "synthetic": self.synthetic,
            "randomized": self.randomized,
            "screened": self.screened,
            "screen_failed": self.screen_failed,
            "screen_fail_percent": self.screen_fail_percent,
            "percent_of_target": self.percent_of_target,
            "sites": self.sites.to_json(),
            "pace": {k: _clean(v) for k, v in self.pace.to_json().items()},
            "per_site": [site.to_json() for site in self.per_site],
            "warnings": list(self.warnings),
        }


def _per_site(table: pd.DataFrame) -> tuple[SiteSummary, ...]:
    """One :class:`SiteSummary` per row of :func:`site_table`."""
    # Column by column: row by row, pandas boxes every cell (~40 ms for 2,000 sites).
    ids, facilities, cities, statuses, screened, randomized = (
        table[c].tolist()
        for c in ("site_id", "facility", "city", "status", "screened", "randomized")
    )
    precisions = [None if v is None or pd.isna(v) else v for v in table["geocode_precision"]]
    return tuple(
        SiteSummary(
            site_id=ids[i],
            facility=facilities[i],
            city=cities[i],
            status=statuses[i],
            lat=lat,
            lon=lon,
            geocode_precision=precisions[i],
            screened=int(screened[i]),
            randomized=int(randomized[i]),
            first_randomization=first,
            last_randomization=last,
        )
        for i, (lat, lon, first, last) in enumerate(
            zip(
                map(_clean, table["lat"].tolist()),
                map(_clean, table["lon"].tolist()),
                _days(table["first_randomization"]),
                _days(table["last_randomization"]),
                strict=True,
            )
        )
    )


def summary(
    trial: Trial,
    sites: pd.DataFrame,
    geocodes: pd.DataFrame | None,
    enrollment: pd.DataFrame,
    as_of: DateLike,
    synthetic: bool,
    data_cutoff: dt.date | None = None,
    table: pd.DataFrame | None = None,
    index: CountsIndex | None = None,
    per_site_rows: bool = True,
) -> Summary:
    """Where recruitment stands as of ``as_of`` (``summary --json`` prints its ``to_json()``).

    ``table``: :func:`site_table` for the same arguments when the caller has it already
    (the dashboard does), so it is not counted twice; ``index``: :func:`counts_index`.
    ``per_site_rows=False`` leaves ``per_site`` empty: the page shows ``table`` itself, and
    2,000 rows of it cost ~20 ms per as-of date.
    """
    cut = to_date(as_of)
    c = counts(enrollment, cut, index)
    if table is None:
        table = site_table(sites, geocodes, enrollment, cut, trial.start_date, index)
    per_site = _per_site(table) if per_site_rows else ()
    pct = percent_of_target(c.randomized, trial.target)
    return Summary(
        trial=TrialFacts(
            nct_id=trial.nct_id,
            title=trial.title,
            acronym=trial.acronym,
            sponsor=trial.sponsor,
            target=trial.target,
            start_date=trial.start_date,
            planned_completion_date=trial.planned_completion_date,
            display_name=trial.display_name,
            last_patient_in_date=trial.last_patient_in_date,
        ),
        as_of=cut,
        data_cutoff=data_cutoff,
        synthetic=bool(synthetic),
        randomized=c.randomized,
        screened=c.screened,
        screen_failed=c.screen_failed,
        screen_fail_percent=None
        if c.screen_fail_percent is None
        else round(c.screen_fail_percent, 1),
        percent_of_target=None if pct is None else round(pct, 1),
        sites=SiteCounts(
            total=int(len(sites)),
            by_status=status_counts(sites, index),
            enrolling=int((table["randomized"] > 0).sum()),
        ),
        pace=pace(trial, enrollment, cut, index),
        per_site=per_site,
        warnings=tuple(as_of_warnings(trial.start_date, data_cutoff, cut)),
    )
