"""The forecast as typed results: what the page, the weekly mail and the terminal read.

Dates are :class:`datetime.date` inside; each type's ``to_json`` is the one place they
become ISO strings (the ``forecast --json`` object, keys in a fixed order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .common import _iso
from .linear import LinearForecast

#: Where the plan prior comes from (cited in the JSON so a statistician can look it up).
PRIOR_REFERENCE = "Gajewski, Simon & Carlson 2008 (R package accrual)"


@dataclass(frozen=True)
class PlannedSite:
    """A site not open by as-of that opens at its planned activation date."""

    site_id: str
    activation_date: dt.date

    def to_json(self) -> dict[str, Any]:
        return {"site_id": self.site_id, "activation_date": self.activation_date.isoformat()}


@dataclass(frozen=True)
class ExpectedCount:
    """Expected randomized count by a date, with its 80 % interval."""

    mean: float
    lo80: int
    hi80: int

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "lo80": self.lo80, "hi80": self.hi80}


@dataclass(frozen=True)
class Prior:
    """The protocol's plan as a weak prior on the mean rate per site."""

    source: str
    mean_rate_per_site_per_month: float | None
    pseudo_patients: float
    share_of_mean_rate_precision: float | None
    kind: str = "plan"
    reference: str = PRIOR_REFERENCE

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "mean_rate_per_site_per_month": self.mean_rate_per_site_per_month,
            "pseudo_patients": self.pseudo_patients,
            "share_of_mean_rate_precision": self.share_of_mean_rate_precision,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Trend:
    """How fast the sites' rates change per year (median, intervals, model weights)."""

    model: str
    change_per_year: float | None
    interval_80: tuple[float | None, float | None]
    interval_95: tuple[float | None, float | None]
    probability_slowing: float | None
    probability_constant: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "change_per_year": self.change_per_year,
            "interval_80": list(self.interval_80),
            "interval_95": list(self.interval_95),
            "probability_slowing": self.probability_slowing,
            "probability_constant": self.probability_constant,
        }


@dataclass(frozen=True)
class SitesNeededRow:
    """For one activation lag: P(target by the deadline) per number k of new sites
    (keys are k as text, as in the JSON) and the smallest k reaching the target probability
    (None: more than the table's maximum)."""

    lag_days: int
    probability_by_k: dict[str, float]
    smallest_k_for_target_probability: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "lag_days": self.lag_days,
            "probability_by_k": dict(self.probability_by_k),
            "smallest_k_for_target_probability": self.smallest_k_for_target_probability,
        }


@dataclass(frozen=True)
class SitesNeededDeadline:
    """The sites-needed rows for one deadline; ``reason`` when it is already past."""

    deadline: str
    date: dt.date
    reason: str | None
    rows: tuple[SitesNeededRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline,
            "date": self.date.isoformat(),
            "reason": self.reason,
            "rows": [row.to_json() for row in self.rows],
        }


@dataclass(frozen=True)
class SitesNeeded:
    """The decision table: per deadline, per lag, P(target) for k more sites."""

    target_probability: float
    k_values: tuple[int, ...]
    lags_days: tuple[int, ...]
    ramp_up_days: int
    max_k: int
    new_site_rates: str
    paths: int
    deadlines: tuple[SitesNeededDeadline, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "target_probability": self.target_probability,
            "k_values": list(self.k_values),
            "lags_days": list(self.lags_days),
            "ramp_up_days": self.ramp_up_days,
            "max_k": self.max_k,
            "new_site_rates": self.new_site_rates,
            "paths": self.paths,
            "deadlines": [block.to_json() for block in self.deadlines],
        }


@dataclass(frozen=True)
class ChartPaths:
    """Weekly median and 80 %/95 % bands of the cumulative randomized count from as-of."""

    dates: tuple[dt.date, ...] = ()
    median: tuple[int, ...] = ()
    lo80: tuple[int, ...] = ()
    hi80: tuple[int, ...] = ()
    lo95: tuple[int, ...] = ()
    hi95: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "dates": [d.isoformat() for d in self.dates],
            "median": list(self.median),
            "lo80": list(self.lo80),
            "hi80": list(self.hi80),
            "lo95": list(self.lo95),
            "hi95": list(self.hi95),
        }


DateInterval = tuple[dt.date | None, dt.date | None]


@dataclass(frozen=True)
class PoissonGammaForecast:
    """The Poisson–gamma part: fitted law, target-date distribution, probabilities and
    expected counts by date, sites needed, chart bands. ``reason`` says why there is none."""

    reason: str | None = None
    alpha: float | None = None
    beta: float | None = None
    alpha_at_bound: bool | None = None
    mean_rate_per_site_per_month: float | None = None
    parameter_uncertainty: bool = False
    paths: int = 0
    seed: int | None = None
    sites_used: int = 0
    sites_planned: tuple[PlannedSite, ...] = ()
    median_target_date: dt.date | None = None
    interval_80: DateInterval = (None, None)
    interval_95: DateInterval = (None, None)
    probability_by: dict[dt.date, float | None] = field(default_factory=dict)
    expected_by: dict[dt.date, ExpectedCount | None] = field(default_factory=dict)
    additional_sites_needed: int | None = None
    additional_sites_by: dt.date | None = None
    additional_sites_reason: str | None = None
    prior: Prior | None = None
    trend: Trend | None = None
    probability_never: float | None = None
    probability_beyond_horizon: float | None = None
    sites_needed: SitesNeeded | None = None
    chart: ChartPaths = ChartPaths()
    #: The activation lag of the headline "additional sites" figure (when there is one).
    additional_sites_lag_days: int | None = None
    #: Monte Carlo standard error of the median target date, in days (``paths`` paths).
    median_mc_error_days: float | None = None
    #: "integrated" when the target date's law was integrated numerically (the page:
    #: :mod:`.completion_law`), "simulated" when it comes from the ``paths`` paths.
    completion_method: str = "simulated"
    #: The integrated median's numerical error in days (how far it moved between the last
    #: two quadrature rules); None when simulated.
    median_numerical_error_days: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reason": self.reason,
            "alpha": self.alpha,
            "beta": self.beta,
            "alpha_at_bound": self.alpha_at_bound,
            "mean_rate_per_site_per_month": self.mean_rate_per_site_per_month,
            "parameter_uncertainty": self.parameter_uncertainty,
            "paths": self.paths,
            "seed": self.seed,
            "sites_used": self.sites_used,
            "sites_planned": [s.to_json() for s in self.sites_planned],
            "median_target_date": _iso(self.median_target_date),
            "interval_80": [_iso(d) for d in self.interval_80],
            "interval_95": [_iso(d) for d in self.interval_95],
            "probability_by": {d.isoformat(): p for d, p in self.probability_by.items()},
            "expected_by": {
                d.isoformat(): None if e is None else e.to_json()
                for d, e in self.expected_by.items()
            },
            "additional_sites_needed": self.additional_sites_needed,
            "additional_sites_by": _iso(self.additional_sites_by),
            "additional_sites_reason": self.additional_sites_reason,
            "prior": None if self.prior is None else self.prior.to_json(),
            "trend": None if self.trend is None else self.trend.to_json(),
            "probability_never": self.probability_never,
            "probability_beyond_horizon": self.probability_beyond_horizon,
            "sites_needed": None if self.sites_needed is None else self.sites_needed.to_json(),
            "chart": self.chart.to_json(),
        }
        if self.additional_sites_lag_days is not None:
            out["additional_sites_lag_days"] = self.additional_sites_lag_days
        if self.median_mc_error_days is not None:
            out["median_mc_error_days"] = self.median_mc_error_days
        if self.completion_method != "simulated":
            out["completion_method"] = self.completion_method
            out["median_numerical_error_days"] = self.median_numerical_error_days
        return out


@dataclass(frozen=True)
class SitesLeftOut:
    """Sites left out of the rate estimates, each with its reason (in site order)."""

    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def count(self) -> int:
        return len(self.reasons)

    @property
    def site_ids(self) -> list[str]:
        return [sid for sid, _ in self.reasons]

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "site_ids": self.site_ids,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True)
class Forecast:
    """Both forecasts for one as-of date. ``requested_as_of`` and ``warnings`` are set when
    the forecast was asked for a date (see :mod:`dashboard.forecast_from_cutoff`): ``as_of``
    is then the date it was really made from."""

    as_of: dt.date
    target: int
    randomized: int
    remaining: int
    target_reached_date: dt.date | None
    planned_completion_date: dt.date
    last_patient_in_date: dt.date | None
    linear: LinearForecast
    poisson_gamma: PoissonGammaForecast
    sites_left_out: SitesLeftOut
    notes: tuple[str, ...]
    requested_as_of: dt.date | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``forecast --json`` object."""
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "target": self.target,
            "randomized": self.randomized,
            "remaining": self.remaining,
            "target_reached_date": _iso(self.target_reached_date),
            "planned_completion_date": self.planned_completion_date.isoformat(),
            "last_patient_in_date": _iso(self.last_patient_in_date),
            "linear": self.linear.to_json(),
            "poisson_gamma": self.poisson_gamma.to_json(),
            "sites_left_out": self.sites_left_out.to_json(),
            "notes": list(self.notes),
        }
        if self.requested_as_of is not None:
            out["requested_as_of"] = self.requested_as_of.isoformat()
            out["warnings"] = list(self.warnings)
        return out
