"""Forecast step: the weighted linear method and the Poisson–gamma model.

Expected values are worked out by hand (in the comments) or come from closed forms in
scipy.stats, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from dashboard import forecast as fc
from dashboard.cli import main
from dashboard.registry import Trial
from tests.simulate import simulate_trial

D = dt.date


START = D(2024, 1, 1)
COMPLETION = D(2026, 1, 1)


def make_trial(start: dt.date = START, completion: dt.date = COMPLETION, target: int = 10) -> Trial:
    return Trial(
        nct_id="NCT00000000",
        title="test",
        acronym=None,
        sponsor="",
        target=target,
        start_date=start,
        planned_completion_date=completion,
        last_updated=None,
        overall_status="RECRUITING",
        treatment_days=360,
    )


def make_sites(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """rows: (site_id, status, activation ISO date or None)."""
    return pd.DataFrame(
        {
            "site_id": [r[0] for r in rows],
            "facility": [f"F{r[0]}" for r in rows],
            "city": "C",
            "country": "France",
            "status": [r[1] for r in rows],
            "activation_date": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ns]"),
            "target": pd.array([pd.NA] * len(rows), dtype="Int64"),
        }
    )


def make_enrollment(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """rows: (site_id, randomization ISO date)."""
    dates = pd.to_datetime([r[1] for r in rows]).astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(len(rows))],
            "site_id": pd.Series([r[0] for r in rows], dtype=str),
            "screening_date": dates,
            "randomization_date": dates,
            "status": "RANDOMIZED",
        }
    )


# The worked example: 3 sites, 5 randomizations on 4 distinct dates.
EXAMPLE = [
    ("01", "2024-01-01"),
    ("01", "2024-01-11"),
    ("02", "2024-01-11"),
    ("03", "2024-01-31"),
    ("02", "2024-02-10"),
]
EXAMPLE_SITES = [
    ("01", "RECRUITING", "2024-01-01"),
    ("02", "RECRUITING", "2024-01-01"),
    ("03", "RECRUITING", "2024-01-15"),
]


def example_dates() -> pd.Series:
    return make_enrollment(EXAMPLE)["randomization_date"]


# =========================================================================== linear
def test_linear_worked_example_with_as_of_after_last_randomization():
    # as_of 2024-02-20 > last randomization: points (days since 2024-01-01, cumulative)
    # (0,1) (10,3) (30,4) (40,5) (50,5); n = 5, weights 1/5, 2/5, 3/5, 4/5, 1 (Σw = 3).
    # Σwx = 0 + 4 + 18 + 32 + 50 = 104;  Σwy = 0.2 + 1.2 + 2.4 + 4 + 5 = 12.8
    # Σwxy = 0 + 12 + 72 + 160 + 250 = 494;  Σwx² = 0 + 40 + 540 + 1280 + 2500 = 4360
    # b = (494 − 104·12.8/3) / (4360 − 104²/3) = (754/15) / (2264/3) = 377/5660 per day.
    # Target 10: 5 to go, 5 / b = 28300/377 = 75.07 → ceil 76 days → 2024-05-06
    # (2024 is a leap year: Feb 20 + 9 = Feb 29, + 31 = Mar 31, + 30 = Apr 30, + 6 = May 6).
    result = fc.linear_forecast(example_dates(), D(2024, 2, 20), target=10)
    assert result.points == 5
    assert result.slope_per_day == pytest.approx(377 / 5660, abs=1e-9)
    assert result.predicted_target_date == D(2024, 5, 6)
    assert result.reason is None


def test_linear_as_of_equal_to_last_randomization():
    # as_of 2024-02-10 = last date: 4 points (0,1) (10,3) (30,4) (40,5), weights 1/4..1 (Σw 2.5)
    # Σwx = 67.5, Σwy = 9.75, Σwxy = 305, Σwx² = 2325
    # b = (305 − 67.5·9.75/2.5) / (2325 − 67.5²/2.5) = 41.75 / 502.5 = 167/2010 per day
    # 5 to go: 5 / b = 10050/167 = 60.18 → 61 days → 2024-04-11.
    result = fc.linear_forecast(example_dates(), D(2024, 2, 10), target=10)
    assert result.points == 4
    assert result.slope_per_day == pytest.approx(167 / 2010, abs=1e-9)
    assert result.predicted_target_date == D(2024, 4, 11)


def test_linear_target_reached_reports_the_date_it_was_reached():
    # The 3rd patient was randomized on 2024-01-11 (two that day), the 5th on 2024-02-10.
    assert fc.linear_forecast(example_dates(), D(2024, 3, 1), target=3).predicted_target_date == D(
        2024, 1, 11
    )
    result = fc.linear_forecast(example_dates(), D(2024, 3, 1), target=5)
    assert result.predicted_target_date == D(2024, 2, 10)
    assert result.reached


def test_linear_fewer_than_two_points_and_zero_slope():
    one = make_enrollment([("01", "2024-01-01")])["randomization_date"]
    # One randomization day and as_of on it: one point, no slope.
    single = fc.linear_forecast(one, D(2024, 1, 1), target=10)
    assert single.predicted_target_date is None and single.slope_per_day is None
    assert "single point" in single.reason
    # No randomization at all.
    none = fc.linear_forecast(one, D(2023, 12, 1), target=10)
    assert none.predicted_target_date is None and "no randomization" in none.reason
    # One randomization day, as_of later: points (0,1) (30,1): flat, b = 0 exactly.
    flat = fc.linear_forecast(one, D(2024, 1, 31), target=10)
    assert flat.slope_per_day == 0.0
    assert flat.predicted_target_date is None and "cannot be estimated" in flat.reason
    assert "never" not in flat.reason


def test_linear_slope_never_negative_for_monotone_counts():
    rng = np.random.default_rng(3)
    for _ in range(50):
        days = np.sort(rng.integers(0, 400, size=rng.integers(2, 30)))
        dates = pd.Series(pd.to_datetime([D(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days]))
        x, y = fc.linear_points(dates, D(2025, 6, 1))
        assert fc.weighted_slope(x, y) >= 0


# =========================================================================== classify
def test_classify_sites_open_planned_left_out():
    sites = make_sites(
        [
            ("01", "RECRUITING", "2024-01-01"),
            ("02", "RECRUITING", None),  # open since the trial start
            ("03", "RECRUITING", "2024-06-01"),  # after as_of: planned (looking back in time)
            ("04", "NOT_YET_RECRUITING", "2024-07-01"),  # planned
            ("05", "NOT_YET_RECRUITING", None),  # unknown date: left out
            ("06", "NOT_YET_RECRUITING", "2024-02-01"),  # date past: left out
            ("07", "COMPLETED", "2024-01-01"),  # left out
        ]
    )
    enrollment = make_enrollment([("01", "2024-02-01"), ("01", "2024-03-01"), ("07", "2024-02-15")])
    plan = fc.classify_sites(sites, enrollment, D(2024, 4, 1), trial_start=D(2023, 12, 1))
    assert plan.open_ids == ["01", "02"]
    assert plan.k.tolist() == [2, 0]
    # 2024-01-01 → 2024-04-01 = 31 + 29 + 31 = 91 days; 2023-12-01 → 2024-04-01 = 122 days.
    assert plan.tau.tolist() == [91, 122]
    assert plan.planned_ids == ["03", "04"]
    # 2024-04-01 → 2024-06-01 = 61 days; → 2024-07-01 = 91 days.
    assert plan.planned_offsets.tolist() == [61, 91]
    assert [sid for sid, _ in plan.left_out] == ["05", "06", "07"]


# =========================================================================== closed forms
def test_single_site_known_rate_time_is_gamma():
    # A rate known exactly (α huge, β = α/λ): T to the n-th arrival ~ Gamma(n, rate λ).
    lam, n = 0.1, 20
    rng = np.random.default_rng(1)
    draws = fc.draw_site_rates(1e12, 1e12 / lam, np.zeros(1), np.zeros(1), np.zeros(1), 40_000, rng)
    t = draws.arrival_times(n, rng)
    for q in (0.025, 0.1, 0.5, 0.9, 0.975):
        assert np.quantile(t, q) == pytest.approx(stats.gamma.ppf(q, n, scale=1 / lam), rel=0.02)


def test_staggered_opening_inverts_the_piecewise_intensity():
    # Site A at 0.02/day from now, site B at 0.05/day from day 50. First arrival:
    # P(T ≤ t) = 1 − exp(−(0.02 t + 0.05 (t − 50)⁺)); at t = 40: 1 − e^−0.8 = 0.5507;
    # at t = 100: 1 − e^−(2 + 2.5) = 0.98889.
    # Rates known exactly: each site "observed" k = λ·10¹² times in τ = 10¹² days.
    rng = np.random.default_rng(2)
    k = np.array([0.02, 0.05]) * 1e12
    draws = fc.draw_site_rates(1.0, 1.0, k, np.full(2, 1e12), np.array([0.0, 50.0]), 40_000, rng)
    t = draws.arrival_times(1, rng)
    assert np.mean(t <= 40) == pytest.approx(1 - math.exp(-0.8), abs=0.01)
    assert np.mean(t <= 100) == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    # Rao–Blackwellised probability agrees with the same closed form.
    assert draws.probability_by(1, 40) == pytest.approx(1 - math.exp(-0.8), abs=1e-6)


def test_counts_by_a_date_are_negative_binomial():
    # Posterior Gamma(α + k, β + τ) = Gamma(3 + 2, 150 + 50) = Gamma(5, 200) per day; the
    # count in the next t = 100 days is NB: mean 5·100/200 = 2.5, variance 2.5·(1 + 100/200) = 3.75.
    rng = np.random.default_rng(3)
    draws = fc.draw_site_rates(
        3.0, 150.0, np.array([2.0]), np.array([50.0]), np.zeros(1), 200_000, rng
    )
    lam = draws.cumulative_intensity(100.0)[:, 0]
    counts = rng.poisson(lam)
    assert counts.mean() == pytest.approx(2.5, abs=4 * math.sqrt(3.75 / 200_000))
    assert counts.var() == pytest.approx(3.75, rel=0.03)
    # The chart's arrival-binning gives the same NB law on the grid (days 0, 50, 100).
    chart = fc.draw_site_rates(
        3.0, 150.0, np.array([2.0]), np.array([50.0]), np.zeros(1), 100_000, rng
    )
    bins = chart.arrival_bins(50.0, 3, cap=60, rng=rng, max_paths=100_000)
    grid_counts = np.stack([(bins <= g).sum(axis=1) for g in range(3)], axis=1)
    assert (grid_counts[:, 0] == 0).all()
    nb = stats.nbinom(5, 200 / 300)  # scipy: n = shape, p = β/(β + t)
    for c in range(6):
        assert np.mean(grid_counts[:, 2] == c) == pytest.approx(nb.pmf(c), abs=0.006)


def test_parameter_recovery_400_sites():
    rng = np.random.default_rng(7)
    tau = rng.integers(200, 801, size=400).astype(float)
    k = rng.poisson(rng.gamma(1.5, 1 / 300, size=400) * tau).astype(float)
    fit = fc.fit_gamma_rates(k, tau)
    assert not fit.at_bound and fit.cov is not None
    se_a, se_b = np.sqrt(np.diag(fit.cov))
    assert abs(math.log(fit.alpha / 1.5)) < 3 * se_a
    assert abs(math.log(fit.beta / 300)) < 3 * se_b
    assert fit.alpha == pytest.approx(1.5, rel=0.4)
    assert fit.beta == pytest.approx(300, rel=0.4)


def test_hessian_matches_finite_differences():
    rng = np.random.default_rng(8)
    tau = rng.integers(50, 500, size=30).astype(float)
    k = rng.poisson(rng.gamma(0.8, 1 / 200, size=30) * tau).astype(float)
    u, v, h = math.log(0.9), math.log(180.0), 1e-4

    def nll(a: float, b: float) -> float:
        return -fc.negbin_log_likelihood(a, b, k, tau)

    fd = np.array(
        [
            [
                (nll(u + h, v) - 2 * nll(u, v) + nll(u - h, v)) / h**2,
                (nll(u + h, v + h) - nll(u + h, v - h) - nll(u - h, v + h) + nll(u - h, v - h))
                / (4 * h * h),
            ],
            [0.0, (nll(u, v + h) - 2 * nll(u, v) + nll(u, v - h)) / h**2],
        ]
    )
    fd[1, 0] = fd[0, 1]
    np.testing.assert_allclose(fc.negbin_hessian(u, v, k, tau), fd, rtol=1e-4)


def test_grid_hessians_at_once_are_the_hessians_row_by_row():
    """The trend grid's fit takes every row's Hessian in one array step: the same numbers,
    to the last bit, as :func:`negbin_hessian` row by row (which the finite differences
    above check), over sites, counts and parameters drawn at random."""
    from dashboard.forecast.gamma_fit import _negbin_hessians

    rng = np.random.default_rng(5)
    for _ in range(50):
        sites, rows = int(rng.integers(1, 120)), int(rng.integers(1, 14))
        k = rng.poisson(rng.uniform(0, 15), sites).astype(float)
        exposure = rng.uniform(0.5, 1500.0, (rows, sites))
        u, v = rng.normal(0, 2, rows), rng.normal(4, 2, rows)
        at_once = _negbin_hessians(u, v, k, exposure)
        for row in range(rows):
            one = fc.negbin_hessian(u[row], v[row], k, exposure[row])
            np.testing.assert_array_equal(at_once[row], one)


def test_fit_refuses_data_without_randomizations():
    with pytest.raises(ValueError, match="no randomization"):
        fc.fit_gamma_rates([0, 0, 0], [100, 200, 300])
    with pytest.raises(ValueError, match="open for a day"):
        fc.fit_gamma_rates([0], [0])


# =========================================================================== forecast()
def single_site_case(k: int = 50, tau: int = 500, target: int = 70, horizon: int = 100):
    """One site open τ days with k randomized: α runs to its bound, rate ≈ k/τ known."""
    as_of = D(2025, 1, 1)
    opened = as_of - dt.timedelta(days=tau)
    step = tau / k
    enrollment = make_enrollment(
        [
            ("01", (opened + dt.timedelta(days=int(math.ceil((i + 0.5) * step)))).isoformat())
            for i in range(k)
        ]
    )
    sites = make_sites([("01", "RECRUITING", opened.isoformat())])
    trial = make_trial(start=opened, completion=as_of + dt.timedelta(days=horizon), target=target)
    return trial, sites, enrollment, as_of


def test_forecast_single_site_plug_in_matches_gamma():
    trial, sites, enrollment, as_of = single_site_case()
    result = fc.forecast(
        trial, sites, enrollment, as_of, paths=20_000, parameter_uncertainty=False, trend=False
    )
    pg = result.poisson_gamma
    assert result.randomized == 50 and result.remaining == 20
    assert pg.alpha_at_bound is True and pg.parameter_uncertainty is False
    # Rate 50/500 = 0.1/day known: T ~ Gamma(20, 0.1); median 196.7 days → day 197.
    median = (pg.median_target_date - as_of).days
    assert abs(median - stats.gamma.ppf(0.5, 20, scale=10)) <= 3
    lo, hi = [(d - as_of).days for d in pg.interval_80]
    assert abs(lo - stats.gamma.ppf(0.1, 20, scale=10)) <= 4
    assert abs(hi - stats.gamma.ppf(0.9, 20, scale=10)) <= 4
    # By the planned completion (100 days): count ~ 50 + Poisson(10); P(≥ 20 more) is tiny.
    planned = trial.planned_completion_date
    assert pg.expected_by[planned].mean == pytest.approx(60, abs=0.3)
    assert pg.probability_by[planned] == pytest.approx(stats.poisson.sf(19, 10), abs=0.002)
    # Sites needed, rate 0.1/day for new sites too (α at its bound: no spread), 60-day linear
    # ramp-up. Lag 0: a new site gives 0.1 × (100 − 30) = 7 expected patients by the deadline,
    # P(Pois(10 + 7k) ≥ 20): k = 1 → 0.29, k = 2 → 0.86: 2 sites. Lag 90: 10 days on the ramp,
    # ∫_0^10 s/60 ds = 100/120 days each: smallest k with P(Pois(10 + k/12) ≥ 20) ≥ 0.8.
    table = pg.sites_needed
    assert table.lags_days == (0, 90, 180) and table.ramp_up_days == 60
    completion = table.deadlines[0]
    assert completion.deadline == "planned completion"
    rows = {row.lag_days: row for row in completion.rows}
    assert rows[0].smallest_k_for_target_probability == 2
    assert rows[0].probability_by_k["1"] == pytest.approx(stats.poisson.sf(19, 17), abs=0.01)
    k90 = next(k for k in range(1, 500) if stats.poisson.sf(19, 10 + k / 12) >= 0.8)
    assert abs(rows[90].smallest_k_for_target_probability - k90) <= 2
    # Lag 180 is after the deadline: no number of sites helps.
    assert rows[180].smallest_k_for_target_probability is None
    assert pg.additional_sites_needed == rows[90].smallest_k_for_target_probability


def test_alpha_at_bound_still_draws_the_mean_rate():
    """One site, 50 patients in 500 days: α runs to its bound, but the mean rate is known
    only to a relative SD of 1/√50: the 80 % interval must be wider than the plug-in's."""
    trial, sites, enrollment, as_of = single_site_case()
    pg = fc.forecast(trial, sites, enrollment, as_of, paths=20_000, trend=False).poisson_gamma
    plug = fc.forecast(
        trial, sites, enrollment, as_of, paths=20_000, trend=False, parameter_uncertainty=False
    ).poisson_gamma
    assert pg.alpha_at_bound is True and pg.parameter_uncertainty is True

    def width(out: fc.PoissonGammaForecast) -> int:
        lo, hi = out.interval_80
        return (hi - lo).days

    # Plug-in: Gamma(20, scale 10) 80 % width = 259 − 145 = 114 days. With ln μ ~ N(ln 0.1,
    # 1/52) the time T = G/μ has log-variance ≈ 1/20 + 1/52 → width ≈ 114·√(1 + 20/52) ≈ 134.
    exact = stats.gamma.ppf(0.9, 20, scale=10) - stats.gamma.ppf(0.1, 20, scale=10)
    assert width(plug) == pytest.approx(exact, abs=5)
    assert width(pg) == pytest.approx(exact * math.sqrt(1 + 20 / 52), abs=8)
    assert pg.prior.pseudo_patients == 2.0
    assert 0 < pg.prior.share_of_mean_rate_precision < 0.05


def sparse_case():
    """8 sites, a year open, over-dispersed counts: the fitted (α, β) are quite uncertain."""
    as_of = D(2025, 1, 1)
    counts = [0, 1, 1, 2, 3, 5, 8, 12]
    rows, enroll = [], []
    for i, n in enumerate(counts):
        sid = f"{i + 1:02d}"
        opened = as_of - dt.timedelta(days=365)
        rows.append((sid, "RECRUITING", opened.isoformat()))
        for j in range(n):
            enroll.append(
                (sid, (opened + dt.timedelta(days=int(365 * (j + 1) / (n + 1)))).isoformat())
            )
    trial = make_trial(start=as_of - dt.timedelta(days=365), completion=D(2026, 1, 1), target=60)
    return trial, make_sites(rows), make_enrollment(enroll), as_of


def test_parameter_uncertainty_widens_the_interval():
    trial, sites, enrollment, as_of = sparse_case()
    opts = {"paths": 20_000, "trend": False, "prior_patients": 0}
    with_pu = fc.forecast(trial, sites, enrollment, as_of, **opts).poisson_gamma
    plug_in = fc.forecast(
        trial, sites, enrollment, as_of, parameter_uncertainty=False, **opts
    ).poisson_gamma
    assert with_pu.parameter_uncertainty is True and plug_in.parameter_uncertainty is False

    def width(pg: fc.PoissonGammaForecast) -> int:
        lo, hi = pg.interval_80
        return (hi - lo).days

    assert width(with_pu) > 1.05 * width(plug_in)


def test_not_positive_definite_hessian_gives_no_covariance():
    # All sites alike: no over-dispersion, α at its bound, no covariance.
    fit = fc.fit_gamma_rates([3, 3, 3, 3], [300, 300, 300, 300])
    assert fit.at_bound and fit.cov is None and "bound" in fit.note
    # ... yet the mean rate α/β is still drawn: ln μ ~ N(ln μ̂, 1/Σk), α fixed.
    posterior = fc.TrendPosterior(np.array([0.0]), np.array([1.0]), [fit])
    params = fc.draw_path_parameters(posterior, 12.0, None, 40_000, np.random.default_rng(0))
    assert params.drawn and np.allclose(params.alpha, fit.alpha)
    log_mu = np.log(params.alpha / params.beta)
    assert log_mu.mean() == pytest.approx(math.log(12 / 1200), abs=0.01)
    assert log_mu.std() == pytest.approx(1 / math.sqrt(12), rel=0.03)


def test_not_positive_definite_hessian_note(monkeypatch):
    # An indefinite Hessian has no inverse covariance...
    assert fc.covariance_from_hessian(np.array([[1.0, 2.0], [2.0, 1.0]])) is None
    assert fc.covariance_from_hessian(np.array([[2.0, 0.0], [0.0, 4.0]])).tolist() == [
        [0.5, 0.0],
        [0.0, 0.25],
    ]
    # ... and an interior maximum whose Hessian is not PD (forced) gives the plug-in + a note.
    trial, sites, enrollment, as_of = sparse_case()
    from dashboard.forecast import gamma_fit

    monkeypatch.setattr(gamma_fit, "covariance_from_hessian", lambda hess: None)
    result = fc.forecast(trial, sites, enrollment, as_of, paths=2000)
    assert result.poisson_gamma.alpha_at_bound is False
    # Still drawn: the mean rate's own uncertainty does not depend on the Hessian.
    assert result.poisson_gamma.parameter_uncertainty is True
    assert any("not positive definite" in n and "still drawn" in n for n in result.notes)


def test_seed_reproducibility_and_by_dates_do_not_disturb():
    trial, sites, enrollment, as_of = sparse_case()
    a = fc.forecast(trial, sites, enrollment, as_of, paths=3000, seed=5)
    b = fc.forecast(trial, sites, enrollment, as_of, paths=3000, seed=5)
    assert a == b
    c = fc.forecast(trial, sites, enrollment, as_of, paths=3000, seed=6)
    assert c.poisson_gamma.probability_by != a.poisson_gamma.probability_by
    d = fc.forecast(trial, sites, enrollment, as_of, paths=3000, seed=5, by=D(2025, 6, 1))
    assert D(2025, 6, 1) in d.poisson_gamma.probability_by
    for key in ("median_target_date", "interval_80", "interval_95", "chart"):
        assert getattr(d.poisson_gamma, key) == getattr(a.poisson_gamma, key)


def test_probability_increases_with_the_date():
    trial, sites, enrollment, as_of = sparse_case()
    by = [D(2025, 3, 1), D(2025, 6, 1), D(2025, 9, 1), D(2026, 6, 1), D(2027, 6, 1)]
    pg = fc.forecast(trial, sites, enrollment, as_of, paths=5000, by=by).poisson_gamma
    probs = [pg.probability_by[d] for d in by]
    assert probs == sorted(probs)
    means = [pg.expected_by[d].mean for d in by]
    assert means == sorted(means)
    # Past dates have known outcomes: the last-patient-in date (2025-01-06) is after as_of
    # here, so try a date before as_of: P = 0, count = observed.
    past = fc.forecast(trial, sites, enrollment, as_of, paths=1000, by=D(2024, 7, 1)).poisson_gamma
    assert past.probability_by[D(2024, 7, 1)] == 0.0
    observed = int((enrollment["randomization_date"] <= "2024-07-01").sum())
    assert past.expected_by[D(2024, 7, 1)] == fc.ExpectedCount(float(observed), observed, observed)


def assert_plain(obj: object, where: str = "result") -> None:
    """Only JSON's own types: no numpy scalars, no NaN/inf."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert type(key) is str, where
            assert_plain(value, f"{where}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            assert_plain(value, f"{where}[{i}]")
    else:
        assert type(obj) in (str, int, float, bool, type(None)), f"{where}: {type(obj)}"
        if type(obj) is float:
            assert math.isfinite(obj), where


def test_chart_is_small_ordered_and_json_clean():
    trial, sites, enrollment, as_of = sparse_case()
    result = fc.forecast(trial, sites, enrollment, as_of, paths=4000)
    chart = result.poisson_gamma.chart
    n = len(chart.dates)
    assert 2 <= n <= 300
    assert chart.dates[0] == as_of
    assert all(len(getattr(chart, key)) == n for key in ("median", "lo80", "hi80", "lo95", "hi95"))
    assert chart.median[0] == result.randomized
    for i in range(n):
        assert (
            chart.lo95[i]
            <= chart.lo80[i]
            <= chart.median[i]
            <= chart.hi80[i]
            <= chart.hi95[i]
            <= 60
        )
    assert list(chart.median) == sorted(chart.median)
    assert_plain(result.to_json())


# =========================================================================== edge cases
def test_target_already_reached_and_above_target():
    sites = make_sites(EXAMPLE_SITES)
    enrollment = make_enrollment(EXAMPLE)
    trial = make_trial(completion=D(2024, 12, 1), target=3)
    result = fc.forecast(trial, sites, enrollment, D(2024, 3, 1), paths=2000)
    pg = result.poisson_gamma
    assert result.remaining == 0 and result.randomized == 5  # above target
    assert result.target_reached_date == D(2024, 1, 11)
    assert pg.median_target_date == D(2024, 1, 11)
    assert pg.interval_80 == (D(2024, 1, 11), D(2024, 1, 11))
    assert pg.probability_by[D(2024, 12, 1)] == 1.0
    assert pg.additional_sites_needed == 0
    assert result.linear.predicted_target_date == D(2024, 1, 11)
    assert_plain(result.to_json())


def test_target_zero():
    sites = make_sites(EXAMPLE_SITES)
    trial = make_trial(target=0)
    result = fc.forecast(trial, sites, make_enrollment(EXAMPLE), D(2024, 3, 1), paths=1000)
    assert result.poisson_gamma.median_target_date == D(2024, 1, 1)  # the trial start
    assert result.poisson_gamma.probability_by[D(2026, 1, 1)] == 1.0
    assert result.linear.predicted_target_date == D(2024, 1, 1)


def test_no_randomization_at_all():
    sites = make_sites(EXAMPLE_SITES)
    result = fc.forecast(make_trial(), sites, make_enrollment([]), D(2024, 3, 1), paths=1000)
    pg = result.poisson_gamma
    assert pg.median_target_date is None and pg.alpha is None
    assert "no randomization" in pg.reason
    assert pg.probability_by[D(2026, 1, 1)] is None
    assert pg.additional_sites_needed is None
    assert result.linear.predicted_target_date is None
    assert any("no forecast" in note for note in result.notes)
    assert_plain(result.to_json())


def test_as_of_before_start_no_open_sites():
    sites = make_sites([("01", "RECRUITING", None), ("02", "RECRUITING", "2024-02-01")])
    result = fc.forecast(make_trial(), sites, make_enrollment([]), D(2023, 6, 1), paths=1000)
    pg = result.poisson_gamma
    assert "no site open" in pg.reason
    assert pg.sites_used == 0
    # Both sites open later (the one without a date at the trial start).
    assert [s.activation_date for s in pg.sites_planned] == [D(2024, 1, 1), D(2024, 2, 1)]
    assert any("before the trial start" in note for note in result.notes)
    assert_plain(result.to_json())


def test_later_opening_sites_start_at_the_prior():
    trial, sites, enrollment, as_of = sparse_case()
    more = pd.concat(
        [
            sites,
            make_sites([(f"{i:02d}", "NOT_YET_RECRUITING", "2025-03-01") for i in range(9, 29)]),
        ],
        ignore_index=True,
    )
    base = fc.forecast(trial, sites, enrollment, as_of, paths=4000).poisson_gamma
    extended = fc.forecast(trial, more, enrollment, as_of, paths=4000).poisson_gamma
    assert len(extended.sites_planned) == 20
    assert extended.median_target_date < base.median_target_date


def test_unreachable_additional_sites_and_past_planned_date():
    trial, sites, enrollment, as_of = sparse_case()
    late = make_trial(start=trial.start_date, completion=D(2024, 12, 1), target=60)
    pg = fc.forecast(late, sites, enrollment, as_of, paths=1000).poisson_gamma
    assert pg.additional_sites_needed is None and "already past" in pg.additional_sites_reason
    # 2 days left for 28 more patients: even 500 extra sites at the mean rate cannot do it.
    soon = make_trial(start=trial.start_date, completion=as_of + dt.timedelta(days=2), target=60)
    pg = fc.forecast(soon, sites, enrollment, as_of, paths=1000).poisson_gamma
    assert pg.additional_sites_needed is None and "more than 500" in pg.additional_sites_reason


# =========================================================================== calibration
@pytest.mark.slow
def test_calibration_of_the_80_percent_interval():
    """100 trials simulated from a known Poisson–gamma process, forecast from half-way.

    With 100 trials the binomial SD of a coverage near 0.8 is 0.04. Bounds: with parameter
    and trend uncertainty the interval should be near nominal or a little wide (bench,
    150 trials: 0.880) → [0.65, 0.95]; the plug-in ignores the error in (α, β, γ) and
    undercovers → [0.5, 0.9].
    A model that treated rates as known (no gamma spread) or mis-scaled time would fall
    well outside (its 80 % interval covers < 50 %).
    """
    n_sites, alpha, beta, target = 43, 1.5, 600.0, 74
    start = D(2023, 1, 2)
    trial = make_trial(start=start, completion=start + dt.timedelta(days=1500), target=target)
    hits = {True: 0, False: 0}
    runs = 100
    for seed in range(runs):
        rng = np.random.default_rng(10_000 + seed)
        activation = np.minimum(np.round(rng.gamma(1.6, 110.0, size=n_sites)), 700)
        sites, enrollment, true_date = simulate_trial(
            n_sites, alpha, beta, activation, target, rng, start
        )
        as_of = enrollment["randomization_date"].iloc[target // 2 - 1].date()
        for pu in (True, False):
            pg = fc.forecast(
                trial, sites, enrollment, as_of, paths=2000, seed=seed, parameter_uncertainty=pu
            ).poisson_gamma
            lo, hi = pg.interval_80  # hi None: beyond the horizon or never
            hits[pu] += lo is not None and lo <= true_date and (hi is None or true_date <= hi)
    assert 0.65 <= hits[True] / runs <= 0.95
    assert 0.5 <= hits[False] / runs <= 0.9
    assert hits[True] >= hits[False] - 2


# =========================================================================== CLI
def test_cli_forecast_json(data_dir):
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "forecast",
            "--json",
            "--data-dir",
            str(data_dir),
            "--paths",
            "2000",
            "--by",
            "2026-06-30",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in (
        "as_of",
        "target",
        "randomized",
        "linear",
        "poisson_gamma",
        "notes",
        "sites_left_out",
    ):
        assert key in out
    for key in ("slope_per_day", "predicted_target_date", "reason"):
        assert key in out["linear"]
    pg = out["poisson_gamma"]
    for key in (
        "alpha",
        "beta",
        "parameter_uncertainty",
        "sites_used",
        "median_target_date",
        "interval_80",
        "interval_95",
        "probability_by",
        "expected_by",
        "additional_sites_needed",
        "chart",
    ):
        assert key in pg
    assert pg["parameter_uncertainty"] is True
    assert set(pg["probability_by"]) == {"2026-02-28", "2025-03-05", "2026-06-30"}
    assert out["synthetic"] is True

    flipped = runner.invoke(
        main,
        [
            "forecast",
            "--json",
            "--data-dir",
            str(data_dir),
            "--paths",
            "2000",
            "--no-parameter-uncertainty",
        ],
    )
    assert flipped.exit_code == 0, flipped.output
    assert json.loads(flipped.output)["poisson_gamma"]["parameter_uncertainty"] is False


def test_cli_forecast_text(data_dir):
    result = CliRunner().invoke(
        main,
        [
            "forecast",
            "--data-dir",
            str(data_dir),
            "--paths",
            "2000",
            "--as-of",
            "2025-06-01",
            "--target",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert "As of 2025-06-01" in result.output
    assert "P(60 by 2026-02-28)" in result.output
