"""The page's fast forecast against independent computations.

Every fast path here is checked against something it does not share code with: the
previous scipy trust-region fit (kept below as the reference), the pandas site
classification and trend time data of the previous code, scipy's incomplete gamma and
gamma laws, and per-site gamma draws. Random data come from fixed seeds.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from dashboard import forecast as fc
from dashboard.forecast.common import ALPHA_MAX, ALPHA_MIN
from dashboard.forecast.precision import median_error_days
from dashboard.forecast.prepared import classify, prepare, since_open
from dashboard.forecast.simulation import PoissonTail, decay_integral
from dashboard.forecast.sites_needed import NewSiteRates
from dashboard.forecast.trend import TREND_GRID_PER_YEAR, YEAR_DAYS
from tests.test_forecast import make_sites, make_trial

D = dt.date


# --- the previous implementation of the gamma fit (scipy trust-exact), as the reference


def _ref_negloglik_grad(theta: np.ndarray, k: np.ndarray, tau: np.ndarray):
    a, b = math.exp(theta[0]), math.exp(theta[1])
    ll = fc.negbin_log_likelihood(theta[0], theta[1], k, tau)
    d_a = np.sum(-np.log1p(tau / b) + special.digamma(a + k) - special.digamma(a))
    d_b = np.sum(a / b - (a + k) / (b + tau))
    return -ll, -np.array([a * d_a, b * d_b])


def _ref_beta_given_alpha(alpha: float, k: np.ndarray, tau: np.ndarray) -> float:
    def score(log_b: float) -> float:
        b = math.exp(log_b)
        return float(np.sum(alpha / b - (alpha + k) / (b + tau)) * b)

    guess = math.log(alpha * tau.sum() / k.sum())
    lo, hi = guess - 5.0, guess + 5.0
    while score(lo) < 0:
        lo -= 5.0
    while score(hi) > 0:
        hi += 5.0
    return math.exp(optimize.brentq(score, lo, hi, xtol=1e-13, rtol=1e-13))


def reference_fit(k: np.ndarray, tau: np.ndarray) -> tuple[float, float, float, bool]:
    """(α, β, log-likelihood, at_bound) by the previous code: two trust-exact searches,
    then the profile maxima at the α bounds."""
    keep = tau > 0
    k, tau = k[keep], tau[keep]
    u_max, u_min = math.log(ALPHA_MAX), math.log(ALPHA_MIN)
    mean_rate = k.sum() / tau.sum()
    best_u, best_v, best_ll = u_max, 0.0, -math.inf
    for a0 in (0.5, 5.0):
        res = optimize.minimize(
            _ref_negloglik_grad,
            np.array([math.log(a0), math.log(a0 / mean_rate)]),
            args=(k, tau),
            jac=True,
            hess=lambda x, k, tau: fc.negbin_hessian(x[0], x[1], k, tau),
            method="trust-exact",
            options={"gtol": 1e-9, "maxiter": 200},
        )
        u = float(res.x[0])
        if u_min <= u <= u_max and np.all(np.isfinite(res.x)) and -res.fun > best_ll:
            best_u, best_v, best_ll = u, float(res.x[1]), -float(res.fun)
    u, v, ll = best_u, best_v, best_ll
    for u_b in (u_max, u_min):
        v_b = math.log(_ref_beta_given_alpha(math.exp(u_b), k, tau))
        ll_b = fc.negbin_log_likelihood(u_b, v_b, k, tau)
        if ll_b >= ll - 1e-9 and (u_b == u_max or ll_b > ll):
            u, v, ll = u_b, v_b, ll_b
    return math.exp(u), math.exp(v), ll, (u >= u_max - 1e-6 or u <= u_min + 1e-6)


def _random_counts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(2, 60))
    tau = rng.integers(0, 1500, size=n).astype(float)
    tau[0] = max(tau[0], 1.0)
    shape = float(np.exp(rng.uniform(-2, 4)))
    lam = rng.gamma(shape, float(np.exp(rng.uniform(-7, -2))) / shape, size=n)
    k = rng.poisson(lam * tau).astype(float)
    if rng.random() < 0.3:  # the first weeks of a trial: a patient or two
        k = np.minimum(k, rng.integers(0, 3, size=n))
    k[tau == 0] = 0
    if k.sum() == 0:
        k[0] = 1
    return k, tau


@pytest.mark.parametrize("seed", range(40))
def test_gamma_fit_matches_the_scipy_trust_region_reference(seed):
    k, tau = _random_counts(np.random.default_rng(seed))
    alpha, beta, ll, at_bound = reference_fit(k, tau)
    fit = fc.fit_gamma_rates(k, tau)
    assert fit.at_bound == at_bound
    # Never worse than the reference's maximum; the same point where it is well defined.
    assert fit.log_likelihood >= ll - 1e-7
    assert fit.log_likelihood == pytest.approx(ll, abs=1e-6)
    if not at_bound:
        assert fit.alpha == pytest.approx(alpha, rel=1e-4)
        assert fit.beta == pytest.approx(beta, rel=1e-4)
        assert fit.cov is not None
    else:
        assert fit.alpha == pytest.approx(alpha, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_trend_grid_fits_equal_one_reference_fit_per_grid_point(seed):
    k, tau = _random_counts(np.random.default_rng(100 + seed))
    post = fc.fit_trend(k, tau, since_open=float(k.sum() * 50.0))
    for gamma, fit in zip(TREND_GRID_PER_YEAR / YEAR_DAYS, post.fits, strict=True):
        alpha, beta, ll, at_bound = reference_fit(k, decay_integral(gamma, tau))
        assert fit.at_bound == at_bound
        assert fit.log_likelihood == pytest.approx(ll, abs=1e-6)
        if not at_bound:
            assert fit.alpha == pytest.approx(alpha, rel=1e-4)


# --- prepared inputs against the pandas classification of the previous code


def _reference_since_open(plan, enrollment: pd.DataFrame, cut: dt.date) -> float:
    """The previous pandas computation of Σ days from opening to mid-randomization-day."""
    if not plan.open_ids:
        return 0.0
    opened = {sid: cut.toordinal() - int(t) for sid, t in zip(plan.open_ids, plan.tau, strict=True)}
    rand = pd.to_datetime(enrollment["randomization_date"])
    rows = enrollment[rand.notna() & (rand <= pd.Timestamp(cut))]
    sid = rows["site_id"].astype(str)
    keep = sid.isin(opened)
    if not keep.any():
        return 0.0
    days = np.array([d.toordinal() for d in rows.loc[keep, "randomization_date"].dt.date])
    start = np.array([opened[s] for s in sid[keep]])
    return float(np.sum(np.maximum(days - start - 0.5, 0.0)))


def _messy_inputs(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sites of every status, with and without activation dates, patients before their
    site's activation, at unknown sites and without a randomization date."""
    rng = np.random.default_rng(seed)
    statuses = ["RECRUITING", "NOT_YET_RECRUITING", "COMPLETED", "SUSPENDED"]
    rows = []
    for i in range(30):
        status = statuses[int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))]
        act = (
            None
            if rng.random() < 0.3
            else str(D(2024, 1, 1) + dt.timedelta(int(rng.integers(0, 700))))
        )
        rows.append((f"{i:02d}", status, act))
    sites = make_sites(rows)
    n = 300
    site_ids = [f"{int(i):02d}" for i in rng.integers(0, 34, size=n)]  # 30..33 unknown
    days = [D(2024, 1, 1) + dt.timedelta(int(d)) for d in rng.integers(0, 800, size=n)]
    dates = pd.to_datetime(days).astype("datetime64[ns]").to_series().reset_index(drop=True)
    dates[rng.random(n) < 0.05] = pd.NaT
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{j}" for j in range(n)],
            "site_id": site_ids,
            "screening_date": dates,
            "randomization_date": dates,
            "status": "RANDOMIZED",
        }
    )
    return sites, enrollment


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("cut", [D(2023, 12, 1), D(2024, 3, 1), D(2024, 11, 15), D(2026, 6, 1)])
def test_prepared_classification_equals_the_pandas_classification(seed, cut):
    sites, enrollment = _messy_inputs(seed)
    start = D(2024, 1, 1)
    ref = fc.classify_sites(sites, enrollment, cut, start)
    prep = prepare(sites, enrollment)
    got = classify(prep, cut, start)
    assert got.open_ids == ref.open_ids
    assert got.k.tolist() == ref.k.tolist()
    assert got.tau.tolist() == ref.tau.tolist()
    assert got.planned_ids == ref.planned_ids
    assert got.planned_dates == ref.planned_dates
    assert got.planned_offsets.tolist() == ref.planned_offsets.tolist()
    assert got.left_out == ref.left_out
    assert got.notes == ref.notes
    assert since_open(prep, got, cut) == pytest.approx(_reference_since_open(ref, enrollment, cut))
    rand = pd.to_datetime(enrollment["randomization_date"])
    assert prep.count_by(cut) == int((rand <= pd.Timestamp(cut)).sum())


def test_prepared_inputs_give_the_same_forecast_as_fresh_ones():
    sites, enrollment = _messy_inputs(3)
    trial = make_trial(start=D(2024, 1, 1), completion=D(2027, 1, 1), target=400)
    cut = D(2025, 2, 1)
    fresh = fc.forecast(trial, sites, enrollment, cut, paths=500)
    kept = fc.forecast(
        trial, sites, enrollment, cut, paths=500, prepared=prepare(sites, enrollment)
    )
    assert fresh.to_json() == kept.to_json()
    # The counts against a hand count of the frame.
    rand = pd.to_datetime(enrollment["randomization_date"])
    assert fresh.randomized == int((rand <= pd.Timestamp(cut)).sum())


# --- the sites-needed table's pieces against scipy


@pytest.mark.parametrize("n", [1, 2, 3, 7, 68, 1000, 150_000])
def test_poisson_tail_table_matches_the_incomplete_gamma(n):
    tail = PoissonTail(n)
    lam = np.random.default_rng(n).uniform(0, 3 * n + 40, 50_000)
    lam = np.concatenate([lam, [0.0, tail.lo, tail.hi, 10 * n + 100]])
    assert np.max(np.abs(tail(lam) - special.gammainc(n, lam))) < 2e-9


def test_new_site_rates_are_gamma_distributed_and_increasing_in_k():
    paths = 20_000
    alpha, beta = np.full(paths, 0.7), np.full(paths, 300.0)
    rates = NewSiteRates(alpha, beta, np.random.default_rng(5))
    for k in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 350, 7, 3, 12):  # bridges and increments
        rates(k)
    ks = sorted(rates.known)
    values = np.stack([rates.known[k] for k in ks])
    assert np.all(np.diff(values, axis=0) >= 0)
    for k in (1, 3, 7, 12, 350, 500):
        law = stats.gamma(k * 0.7, scale=1 / 300.0)
        assert stats.kstest(rates.known[k], law.cdf).pvalue > 1e-3


# --- one variate per (opening, τ) against one per site


def test_grouped_site_draws_have_the_law_of_per_site_draws():
    rng = np.random.default_rng(11)
    k = np.array([3, 0, 5, 1, 0, 0, 0], float)
    tau = np.array([200, 200, 350, 350, 0, 0, 0], float)
    start = np.array([0, 0, 0, 0, 30, 30, 90], float)
    paths = 20_000
    a = rng.uniform(0.5, 2.0, paths)
    b = a / 0.01
    draws = fc.draw_site_rates(a, b, k, tau, start, paths, np.random.default_rng(1))
    # Reference: each site's rate drawn on its own, summed per opening time.
    ref_rng = np.random.default_rng(2)
    per_site = ref_rng.standard_gamma(a[:, None] + k[None, :]) / (b[:, None] + tau[None, :])
    ref = np.stack([per_site[:, start == o].sum(axis=1) for o in (0.0, 30.0, 90.0)], axis=1)
    assert draws.offsets.tolist() == [0.0, 30.0, 90.0]
    for col in range(3):
        assert stats.ks_2samp(draws.group_rates[:, col], ref[:, col]).pvalue > 1e-3


# --- the CLI's precision, and the page's integrated target date


def test_median_error_matches_the_normal_closed_form():
    # Median of n normal draws: sd σ·sqrt(π/2)/√n.
    rng = np.random.default_rng(3)
    for n in (1000, 10_000):
        errs = [median_error_days(rng.normal(0, 30, n)) for _ in range(20)]
        assert np.mean(errs) == pytest.approx(30 * math.sqrt(math.pi / 2) / math.sqrt(n), rel=0.1)
    assert median_error_days(np.full(100, np.inf)) == math.inf


def _many_patients() -> tuple:
    """120 sites, 1,500 patients in a year, 500 to go: a narrow law."""
    rng = np.random.default_rng(7)
    sites = make_sites([(f"{i:03d}", "RECRUITING", "2024-01-01") for i in range(120)])
    days = rng.integers(0, 365, size=1500)
    site_ids = [f"{int(i):03d}" for i in rng.integers(0, 120, size=1500)]
    dates = pd.to_datetime([D(2024, 1, 1) + dt.timedelta(int(d)) for d in days])
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{j}" for j in range(1500)],
            "site_id": site_ids,
            "screening_date": dates.astype("datetime64[ns]"),
            "randomization_date": dates.astype("datetime64[ns]"),
            "status": "RANDOMIZED",
        }
    )
    trial = make_trial(start=D(2024, 1, 1), completion=D(2025, 6, 1), target=2000)
    return trial, sites, enrollment, D(2024, 12, 31)


def _three_patients_and_planned_sites() -> tuple:
    """Three patients at 20 open sites, 5 sites opening later: a law years wide, with a
    real chance that slowing sites never get there."""
    rows = [(f"{i:02d}", "RECRUITING", "2024-01-01") for i in range(20)]
    rows += [(f"{20 + i}", "NOT_YET_RECRUITING", f"2024-{7 + i:02d}-15") for i in range(5)]
    sites = make_sites(rows)
    dates = pd.to_datetime(["2024-02-01", "2024-03-10", "2024-04-20"]).astype("datetime64[ns]")
    enrollment = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "site_id": ["00", "03", "07"],
            "screening_date": dates,
            "randomization_date": dates,
            "status": "RANDOMIZED",
        }
    )
    trial = make_trial(start=D(2024, 1, 1), completion=D(2026, 1, 1), target=40)
    return trial, sites, enrollment, D(2024, 6, 1)


@pytest.mark.parametrize("case", [_many_patients, _three_patients_and_planned_sites])
def test_page_target_date_is_what_200k_simulated_paths_say(case):
    """The page integrates the target date's law; 200,000 simulated paths of the same model
    (exact in law, no code shared with the quadrature beyond the fitted posterior) must
    agree within their own Monte Carlo error, date by date and probability by probability."""
    trial, sites, enrollment, cut = case()
    page = fc.forecast(trial, sites, enrollment, cut, integrate=True, paths=1000).poisson_gamma
    sim = fc.forecast(trial, sites, enrollment, cut, paths=200_000).poisson_gamma
    assert page.completion_method == "integrated" and sim.completion_method == "simulated"
    assert page.median_numerical_error_days is not None
    assert page.median_numerical_error_days <= 1.0
    assert page.paths == 1000
    assert sim.median_mc_error_days is not None
    slack = dt.timedelta(days=math.ceil(4 * sim.median_mc_error_days) + 1)
    assert page.median_target_date is not None and sim.median_target_date is not None
    assert abs(page.median_target_date - sim.median_target_date) <= slack
    for mine, theirs in ((page.interval_80, sim.interval_80), (page.interval_95, sim.interval_95)):
        for a, b in zip(mine, theirs, strict=True):
            if a is None or b is None:  # beyond the horizon: both must say so
                assert a is None and b is None
                continue
            # An interval's ends are sampled less densely: 2 % of the distance, 3 days.
            assert abs(a - b) <= dt.timedelta(days=3 + 0.02 * (b - cut).days)
    for day, p in sim.probability_by.items():
        assert page.probability_by[day] == pytest.approx(p, abs=0.01)
    assert page.probability_never == pytest.approx(sim.probability_never, abs=0.005)
    assert page.probability_beyond_horizon == pytest.approx(
        sim.probability_beyond_horizon, abs=0.005
    )


def test_page_forecast_says_how_it_was_made():
    trial, sites, enrollment, cut = _three_patients_and_planned_sites()
    page = fc.forecast(trial, sites, enrollment, cut, integrate=True, paths=1000)
    out = page.to_json()["poisson_gamma"]
    assert out["completion_method"] == "integrated"
    assert out["median_numerical_error_days"] <= 1.0
    cli = fc.forecast(trial, sites, enrollment, cut, paths=2000).to_json()["poisson_gamma"]
    assert "completion_method" not in cli and "median_numerical_error_days" not in cli
    assert cli["median_mc_error_days"] > 1.0


def test_prepared_inputs_are_kept_per_data_version_and_bounded():
    from dataclasses import replace

    from dashboard.page import per_version
    from tests.helpers import small_trial_data

    def prepared(data):
        return per_version.once_per_version(
            data, "forecast_inputs", lambda d: prepare(d.sites, d.enrollment)
        )

    base = small_trial_data()
    sites, enrollment = _messy_inputs(1)
    v1 = replace(base, sites=sites, enrollment=enrollment, version="v1")
    first = prepared(v1)
    assert prepared(v1) is first
    # New data (another version, other frames): prepared anew, and from its own rows.
    sites2, enrollment2 = _messy_inputs(2)
    second = prepared(replace(base, sites=sites2, enrollment=enrollment2, version="v2"))
    assert second is not first
    rand = pd.to_datetime(enrollment2["randomization_date"])
    assert second.count_by(D(2024, 6, 1)) == int((rand <= pd.Timestamp(D(2024, 6, 1))).sum())
    for n in range(3, 3 + 2 * per_version.VERSIONS_KEPT):
        prepared(replace(base, sites=sites, enrollment=enrollment, version=f"v{n}"))
    assert per_version.versions_kept() <= per_version.VERSIONS_KEPT
    with pytest.raises(ValueError):
        first.day[0] = 0  # read-only: shared by the page's threads


def test_prepared_counts_by_dates_beyond_nanosecond_timestamps():
    sites, enrollment = _messy_inputs(4)
    prep = prepare(sites, enrollment)
    assert prep.count_by(D(2900, 1, 1)) == int(enrollment["randomization_date"].notna().sum())
    assert prep.count_by(D(1600, 1, 1)) == 0


def test_a_by_date_centuries_away_gives_numbers_not_an_error():
    sites, enrollment = _messy_inputs(3)
    trial = make_trial(start=D(2024, 1, 1), completion=D(2027, 1, 1), target=400)
    result = fc.forecast(trial, sites, enrollment, D(2025, 2, 1), by=[D(2900, 1, 1)], paths=300)
    assert result.poisson_gamma.probability_by[D(2900, 1, 1)] is not None
    assert result.poisson_gamma.expected_by[D(2900, 1, 1)] is not None


@pytest.mark.parametrize("days", [0.0, 20.0, 60.0, 400.0, 2500.0])
@pytest.mark.parametrize("ramp", [0.0, 60.0])
def test_ramp_exposure_is_the_integral(days, ramp):
    """The closed form against scipy's adaptive quadrature of min(s/ramp, 1)·e^{−γs}."""
    from scipy import integrate

    from dashboard.forecast.sites_needed import ramp_exposure

    gammas = np.array([-1.0, 0.0, 0.25, 2.0]) / YEAR_DAYS
    got = ramp_exposure(np.repeat(gammas, 2), days, ramp)
    for i, g in enumerate(np.repeat(gammas, 2)):

        def shape(s: float, g: float = g) -> float:
            return (min(s / ramp, 1.0) if ramp > 0 else 1.0) * math.exp(-g * s)

        ref = integrate.quad(shape, 0, days, points=[ramp] if 0 < ramp < days else None)[0]
        assert got[i] == pytest.approx(ref, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("paths", [1, 7, 1000])
def test_chart_quantiles_from_arrival_bins_are_those_of_the_counts(paths):
    """The chart's order statistics per arrival equal the quantiles of the counts built
    path by path (the plain way: count the arrivals at or before each grid point)."""
    from dashboard.forecast.simulation import _count_quantiles, binned_count_quantiles

    rng = np.random.default_rng(paths)
    draws = fc.draw_site_rates(
        2.0,
        150.0,
        np.array([2.0, 0.0, 5.0]),
        np.array([50.0, 20.0, 300.0]),
        np.array([0.0, 0.0, 40.0]),
        paths,
        rng,
    )
    levels = (0.5, 0.1, 0.9, 0.025, 0.975)
    for cap, points in ((1, 30), (25, 40), (40, 40)):
        bins = draws.arrival_bins(7.0, points, cap, rng, paths)
        counts = np.stack([(bins <= g).sum(axis=1) for g in range(points)], axis=1)
        assert np.array_equal(
            binned_count_quantiles(bins, points, levels), _count_quantiles(counts, levels)
        )
