"""The ``forecast`` entry point: both methods as one typed :class:`Forecast`."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import MONTH_DAYS, DateLike, to_date
from ..registry import Trial
from .common import (
    CHART_HORIZON_CAP_DAYS,
    CHART_MAX_PATHS,
    CHART_STEP_DAYS,
    DEFAULT_PATHS,
    DEFAULT_SEED,
    MAX_FORECAST_DAYS,
    QUANTILES,
    TARGET_PROBABILITY,
    _days_to_date,
    _float,
)
from .completion_law import IntegratedLaw, integrate_completion
from .linear import linear_forecast_days
from .precision import median_error_days as median_error_days_of
from .prepared import PreparedInputs, classify, patients_at, prepare, since_open
from .result import (
    ChartPaths,
    DateInterval,
    ExpectedCount,
    Forecast,
    PlannedSite,
    PoissonGammaForecast,
    Prior,
    SitesLeftOut,
    Trend,
)
from .simulation import (
    RateDraws,
    _count_quantiles,
    _quantile_days,
    binned_count_quantiles,
    draw_site_rates,
)
from .sites import SitePlan
from .sites_needed import DEFAULT_LAGS_DAYS, DEFAULT_RAMP_DAYS, Deadline, sites_needed_table
from .trend import (
    PRIOR_PSEUDO_PATIENTS,
    draw_path_parameters,
    fit_trend,
    plan_prior,
)


def _by_dates(trial: Trial, by: DateLike | Iterable[DateLike] | None) -> list[dt.date]:
    dates = [trial.planned_completion_date]
    if trial.last_patient_in_date is not None:
        dates.append(trial.last_patient_in_date)
    if by is not None:
        extra = [by] if isinstance(by, dt.date | str | pd.Timestamp) else list(by)
        dates += [to_date(d) for d in extra]
    return sorted(set(dates))


def forecast(
    trial: Trial,
    sites: pd.DataFrame,
    enrollment: pd.DataFrame,
    as_of: DateLike,
    target: int | None = None,
    by: DateLike | Iterable[DateLike] | None = None,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    parameter_uncertainty: bool = True,
    trend: bool = True,
    lags: tuple[int, ...] = DEFAULT_LAGS_DAYS,
    ramp_days: int = DEFAULT_RAMP_DAYS,
    prior_patients: float = PRIOR_PSEUDO_PATIENTS,
    integrate: bool = False,
    prepared: PreparedInputs | None = None,
) -> Forecast:
    """Both forecasts for one as-of date (``to_json()`` is the ``forecast --json`` object).

    The linear part, the Poisson–gamma part, the sites left out of the rate estimates
    and notes. ``poisson_gamma.chart`` holds the weekly median path
    and 80 %/95 % bands of the cumulative randomized count (capped at the target: recruitment
    stops there). Same inputs and seed ⇒ same output; adding a ``by`` date changes nothing
    else (each use of randomness has its own stream).

    ``integrate`` (the page): the target date's law (its quantiles, P(by a date), P(never))
    is integrated numerically over the same model (:mod:`.completion_law`: no Monte Carlo
    error, a numerical error under a day where the rules allow); the ``paths`` simulated
    paths then only give the chart bands, the expected counts and the sites-needed table,
    whose rows are then those of the planned completion only (the ones the page shows).
    ``prepared``: :func:`.prepared.prepare` of these sites and enrollment, when the caller
    keeps it per data version (the page); made here otherwise.
    """
    cut = to_date(as_of)
    goal = trial.target if target is None else int(target)
    if goal < 0:
        raise ValueError("target must be ≥ 0")
    if paths < 1:
        raise ValueError("paths must be ≥ 1")
    if seed < 0:
        raise ValueError("seed must be ≥ 0")
    prep = prepare(sites, enrollment) if prepared is None else prepared
    total = prep.count_by(cut)
    days = prep.day[:total]
    remaining = max(goal - total, 0)
    notes: list[str] = []
    if cut < trial.start_date:
        notes.append(f"as_of {cut} is before the trial start {trial.start_date}")
    by_dates = _by_dates(trial, by)
    reached = None
    if total >= goal:
        reached = trial.start_date if goal <= 0 else dt.date.fromordinal(int(days[goal - 1]))

    lin = linear_forecast_days(days, cut, goal, trial.start_date)
    plan = classify(prep, cut, trial.start_date)
    notes += plan.notes
    outside = int((prep.patient_site[:total] < 0).sum())
    if outside:
        notes.append(
            f"{outside} randomized patient(s) at sites not in sites.csv: counted in the total only"
        )
    left_k = patients_at(prep, cut, [sid for sid, _ in plan.left_out])
    if left_k:
        notes.append(
            f"{left_k} randomized patient(s) at left-out sites: counted in the total, "
            "not in the rate estimates"
        )

    pg = _poisson_gamma(
        trial,
        plan,
        prep,
        cut,
        goal,
        total,
        reached,
        by_dates,
        paths,
        seed,
        parameter_uncertainty,
        notes,
        trend,
        tuple(int(x) for x in lags),
        int(ramp_days),
        float(prior_patients),
        integrate,
    )
    return Forecast(
        as_of=cut,
        target=goal,
        randomized=total,
        remaining=remaining,
        target_reached_date=reached,
        planned_completion_date=trial.planned_completion_date,
        last_patient_in_date=trial.last_patient_in_date,
        linear=lin,
        poisson_gamma=pg,
        sites_left_out=SitesLeftOut(tuple((str(sid), why) for sid, why in plan.left_out)),
        notes=tuple(notes),
    )


def _poisson_gamma(
    trial: Trial,
    plan: SitePlan,
    prep: PreparedInputs,
    cut: dt.date,
    goal: int,
    total: int,
    reached: dt.date | None,
    by_dates: list[dt.date],
    paths: int,
    seed: int,
    parameter_uncertainty: bool,
    notes: list[str],
    trend: bool,
    lags: tuple[int, ...],
    ramp_days: int,
    prior_patients: float,
    integrate: bool = False,
) -> PoissonGammaForecast:
    remaining = max(goal - total, 0)
    streams = {
        name: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        for i, name in enumerate(("params", "rates", "times", "chart", "sites"))
    }

    def by_rng(day: dt.date) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(10, day.toordinal())))

    posterior = None
    reason: str | None = None
    if not plan.open_ids:
        if plan.planned_ids:
            reason = "no site open by as_of: rates cannot be estimated"
        else:
            reason = "no site open or planned: the target cannot be reached"
    else:
        try:
            posterior = fit_trend(plan.k, plan.tau, since_open(prep, plan, cut), trend)
        except ValueError as exc:
            reason = str(exc)
    if posterior is None:
        notes.append(f"Poisson–gamma: no forecast ({reason})")
    fitted: dict[str, Any] = {}
    sites_planned = tuple(
        PlannedSite(str(sid), d)
        for sid, d in zip(plan.planned_ids, plan.planned_dates, strict=True)
    )

    draws: RateDraws | None = None
    integrated: IntegratedLaw | None = None
    params = None
    if posterior is not None:
        fit = posterior.fits[posterior.mode]
        if fit.note:
            notes.append(
                fit.note
                + (
                    ": the mean rate's uncertainty is still drawn (α fixed)"
                    if parameter_uncertainty
                    else ""
                )
            )
        completion_days = (trial.planned_completion_date - cut).days
        prior = plan_prior(goal, completion_days, plan.tau, plan.planned_offsets, prior_patients)
        k_all = np.concatenate([plan.k, np.zeros(len(plan.planned_ids))])
        tau_all = np.concatenate([plan.tau, np.zeros(len(plan.planned_ids))])
        start_all = np.concatenate([np.zeros(len(plan.open_ids)), plan.planned_offsets])

        params = draw_path_parameters(
            posterior, float(plan.k.sum()), prior, paths, streams["params"], parameter_uncertainty
        )
        draws = draw_site_rates(
            params.alpha,
            params.beta,
            k_all,
            tau_all,
            start_all,
            paths,
            streams["rates"],
            gamma=params.gamma if np.any(params.gamma) else None,
        )
        if integrate and total < goal:
            integrated = integrate_completion(
                posterior,
                float(plan.k.sum()),
                prior,
                plan.k,
                plan.tau,
                plan.planned_offsets,
                remaining,
                QUANTILES,
                float(MAX_FORECAST_DAYS),
                parameter_uncertainty,
                simulated=draws.arrival_times(remaining, streams["times"]),
            )
        change = posterior.change_per_year()
        fitted = {
            "alpha": _float(fit.alpha),
            "beta": _float(fit.beta),
            "alpha_at_bound": fit.at_bound,
            "mean_rate_per_site_per_month": _float(fit.mean_rate * MONTH_DAYS),
            "parameter_uncertainty": params.drawn,
            "paths": paths,
            "seed": seed,
            "prior": None
            if prior is None or not params.drawn
            else Prior(
                source=prior.source,
                mean_rate_per_site_per_month=_float(prior.mean_rate * MONTH_DAYS),
                pseudo_patients=prior.pseudo_patients,
                share_of_mean_rate_precision=_float(params.prior_share),
            ),
            "trend": Trend(
                model="rate_i(t) = rate_i·exp(−γ·t), t from the site's opening; "
                "constant and trending models averaged by their evidence"
                if trend
                else "constant rates (trend off)",
                change_per_year=_float(change["median"]),
                interval_80=(_float(change["lo80"]), _float(change["hi80"])),
                interval_95=(_float(change["lo95"]), _float(change["hi95"])),
                probability_slowing=_float(change["probability_slowing"]),
                probability_constant=_float(change["probability_constant_model"]),
            ),
        }

    # --- target date distribution
    q975: float | None = None  # days: the chart's horizon
    median: dt.date | None = None
    interval_80: DateInterval = (None, None)
    interval_95: DateInterval = (None, None)
    never: float | None = None
    beyond: float | None = None
    q: dict[float, float] | None = None
    if reached is not None or goal <= total:
        median = reached
        interval_80 = interval_95 = (reached, reached)
    elif integrated is not None:
        fitted["completion_method"] = "integrated"
        fitted["median_numerical_error_days"] = _float(integrated.error_days)
        q = integrated.quantile_days
        never, beyond = integrated.probability_never, integrated.probability_beyond
    elif draws is not None:
        t_days = draws.arrival_times(remaining, streams["times"])
        fitted["median_mc_error_days"] = _float(median_error_days_of(t_days))
        q = {p: _quantile_days(t_days, p) for p in QUANTILES}
        never = float(np.mean(~np.isfinite(t_days)))
        beyond = float(np.mean(t_days > MAX_FORECAST_DAYS))
    if q is not None and never is not None and beyond is not None:
        q975 = q[0.975]
        as_dates = {p: _days_to_date(cut, q[p]) for p in QUANTILES}
        median = as_dates[0.5]
        interval_80 = (as_dates[0.1], as_dates[0.9])
        interval_95 = (as_dates[0.025], as_dates[0.975])
        if any(v is None for v in as_dates.values()):
            share = (
                f"with probability {beyond:.0%}"
                if integrated is not None
                else f"in {beyond:.0%} of the simulations"
            )
            notes.append(
                f"{share} the target is not reached within "
                f"{MAX_FORECAST_DAYS // 365} years ({never:.0%} never, as the sites slow "
                "down): those dates are shown as null"
            )

    # --- probability and expected count by dates
    probability_by: dict[dt.date, float | None] = {}
    expected_by: dict[dt.date, ExpectedCount | None] = {}
    for day in by_dates:
        days = (day - cut).days
        if days <= 0:
            observed = prep.count_by(day)
            probability_by[day] = 1.0 if observed >= goal else 0.0
            expected_by[day] = ExpectedCount(float(observed), observed, observed)
            continue
        if total >= goal:
            probability_by[day] = 1.0
        elif integrated is not None:
            probability_by[day] = float(integrated.law.probability(remaining, np.array([days]))[0])
        elif draws is not None:
            probability_by[day] = draws.probability_by(remaining, days)
        else:
            probability_by[day] = None
        if draws is None:
            expected_by[day] = None
            continue
        lam = draws.cumulative_intensity(days)[:, 0]
        # numpy refuses λ above ~1e19 (growing rates over centuries): such counts are
        # astronomically past any target anyway.
        counts = total + by_rng(day).poisson(np.minimum(lam, 1e15))
        lo, hi = _count_quantiles(counts, (0.1, 0.9))
        expected_by[day] = ExpectedCount(float(total + lam.mean()), int(lo), int(hi))

    # --- sites needed: decision table, and the headline figure (planned completion, middle lag)
    deadlines = [Deadline("planned completion", trial.planned_completion_date)]
    lpi = _last_patient_in(trial)
    if lpi is not None and not integrate:  # the page shows the planned completion's rows
        deadlines.append(Deadline("last patient in", lpi))
    plan_day = trial.planned_completion_date
    plan_days = (plan_day - cut).days
    needed: int | None = None
    needed_reason: str | None = None
    needed_lag: int | None = None
    table = None
    if total >= goal:
        needed = 0
        needed_reason = "target already reached"
    elif plan_days <= 0:
        needed_reason = f"planned completion {plan_day} already past"
    elif draws is None:
        needed_reason = reason
    if draws is not None and params is not None and total < goal:
        table = sites_needed_table(
            draws,
            params.alpha,
            params.beta,
            remaining,
            cut,
            deadlines,
            lags,
            ramp_days,
            streams["sites"],
        )
        rows = table.deadlines[0].rows
        if rows:
            row = rows[len(rows) // 2]
            m = row.smallest_k_for_target_probability
            needed = m
            needed_lag = row.lag_days
            needed_reason = (
                "already on track"
                if m == 0
                else f"sites opening after {row.lag_days} days with a {ramp_days}-day "
                f"ramp-up, rates drawn from the fitted law, for P ≥ {TARGET_PROBABILITY:.0%}"
                if m is not None
                else f"more than {table.max_k} sites opening after {row.lag_days} days "
                f"would be needed for P ≥ {TARGET_PROBABILITY:.0%}"
            )

    return PoissonGammaForecast(
        reason=reason,
        sites_used=len(plan.open_ids),
        sites_planned=sites_planned,
        median_target_date=median,
        interval_80=interval_80,
        interval_95=interval_95,
        probability_by=probability_by,
        expected_by=expected_by,
        additional_sites_needed=needed,
        additional_sites_by=plan_day,
        additional_sites_reason=needed_reason,
        probability_never=never,
        probability_beyond_horizon=beyond,
        sites_needed=table,
        chart=_chart(trial, draws, q975, cut, total, goal, streams["chart"]),
        additional_sites_lag_days=needed_lag,
        **fitted,
    )


def _last_patient_in(trial: Trial) -> dt.date | None:
    """Last patient in, when the trial knows its treatment duration (else None)."""
    try:
        value = trial.last_patient_in_date
    except (AttributeError, TypeError, ValueError):
        return None
    return value if isinstance(value, dt.date) else None


def _chart(
    trial: Trial,
    draws: RateDraws | None,
    q975: float | None,
    cut: dt.date,
    total: int,
    goal: int,
    rng: np.random.Generator,
) -> ChartPaths:
    """Weekly median and 80 %/95 % bands of the cumulative randomized count from as_of.

    The horizon is the later of the 97.5 % date and the planned completion, capped at
    5 years; counts are capped at the target since recruitment stops there. Drawn from the
    first ``CHART_MAX_PATHS`` paths (plenty for a chart, and cheap). ``q975``: the 97.5 %
    target date in days (inf when never), None when there is none.
    """
    if draws is None or total >= goal:
        return ChartPaths((cut,), (total,), (total,), (total,), (total,), (total,))
    end = max((trial.planned_completion_date - cut).days, 0)
    if q975 is not None:
        # An infinite 97.5 % date (paths that never get there): chart the longest horizon.
        end = max(end, int(math.ceil(q975))) if math.isfinite(q975) else CHART_HORIZON_CAP_DAYS
    end = min(max(end, CHART_STEP_DAYS), CHART_HORIZON_CAP_DAYS)
    grid = np.arange(0, end + CHART_STEP_DAYS, CHART_STEP_DAYS, dtype=float)
    cap = goal - total
    levels = (0.5, 0.1, 0.9, 0.025, 0.975)
    if cap <= len(grid):
        # Few patients to go: draw each path's arrivals (exact, coherent along the path).
        bins = draws.arrival_bins(CHART_STEP_DAYS, len(grid), cap, rng, CHART_MAX_PATHS)
        qs = total + binned_count_quantiles(bins, len(grid), levels)
    else:
        # Many to go: one Poisson count per grid point is cheaper than every arrival.
        lam = draws.cumulative_intensity(grid)[:CHART_MAX_PATHS]
        qs = _count_quantiles(total + np.minimum(rng.poisson(lam), cap), levels)
    # Whole days and counts as Python dates and ints, converted by numpy all at once.
    days = np.datetime64(cut, "D") + grid.astype(np.int64).astype("timedelta64[D]")
    bands = [tuple(row) for row in np.asarray(qs, dtype=np.int64).tolist()]
    return ChartPaths(
        dates=tuple(days.tolist()),
        median=bands[0],
        lo80=bands[1],
        hi80=bands[2],
        lo95=bands[3],
        hi95=bands[4],
    )
