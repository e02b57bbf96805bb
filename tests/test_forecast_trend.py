"""Forecast round two (issue 18): honest from the first patient, slowing sites, sites needed."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import integrate, stats

from dashboard import forecast as fc
from dashboard.cli import main
from dashboard.registry import Trial
from tests.simulate import simulate_trial

D = dt.date


def _trial(start: D, completion: D, target: int) -> Trial:
    return Trial(
        nct_id="NCT00000018",
        title="t",
        acronym=None,
        sponsor="",
        target=target,
        start_date=start,
        planned_completion_date=completion,
        last_updated=None,
        overall_status=None,
    )


# --------------------------------------------------------------------------- done-when
@pytest.mark.parametrize("as_of", ["2023-04-06", "2023-05-01"])
def test_shipped_demo_first_patient_is_not_a_certainty(data_dir, as_of):
    """One patient (2023-04-06) or none more since (2023-05-01): P(74 by 2026-02-28) was
    100 % and 3.4 % before issue 18; it must stay strictly between 2 % and 98 %."""
    result = CliRunner().invoke(
        main,
        ["forecast", "--json", "--data-dir", str(data_dir), "--as-of", as_of, "--paths", "4000"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    pg = out["poisson_gamma"]
    p = pg["probability_by"]["2026-02-28"]
    assert 0.02 < p < 0.98
    assert pg["parameter_uncertainty"] is True
    # Which prior and how much weight, said in the JSON.
    assert pg["prior"]["kind"] == "plan" and pg["prior"]["pseudo_patients"] > 0
    assert 0 < pg["prior"]["share_of_mean_rate_precision"] < 1
    # The trend and the sites-needed table are there.
    assert set(pg["trend"]) >= {"change_per_year", "interval_80", "interval_95"}
    table = pg["sites_needed"]
    assert table["lags_days"] == [0, 90, 180]
    assert [b["deadline"] for b in table["deadlines"]][0] == "planned completion"
    for block in table["deadlines"]:
        for row in block["rows"]:
            probs = [row["probability_by_k"][str(k)] for k in table["k_values"]]
            assert probs == sorted(probs)  # more sites never hurt (common random numbers)
    # k = 0 is the forecast itself: the table's paths are a fair sample of all paths.
    assert table["deadlines"][0]["rows"][0]["probability_by_k"]["0"] == pytest.approx(p, abs=0.03)
    # Later lags never need fewer sites.
    rows = table["deadlines"][0]["rows"]
    ks = [r["smallest_k_for_target_probability"] for r in rows]
    ks = [10**9 if k is None else k for k in ks]
    assert ks == sorted(ks)


def test_all_sites_closed_says_the_target_cannot_be_reached():
    sites = pd.DataFrame(
        {
            "site_id": ["01", "02"],
            "facility": ["a", "b"],
            "city": "c",
            "country": "France",
            "status": ["COMPLETED", "TERMINATED"],
            "activation_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "target": pd.array([pd.NA, pd.NA], dtype="Int64"),
        }
    )
    enrollment = pd.DataFrame(
        {
            "patient_id": ["P1"],
            "site_id": ["01"],
            "screening_date": pd.to_datetime(["2024-02-01"]),
            "randomization_date": pd.to_datetime(["2024-02-01"]),
            "status": "RANDOMIZED",
        }
    )
    trial = _trial(D(2024, 1, 1), D(2026, 1, 1), 10)
    pg = fc.forecast(trial, sites, enrollment, D(2024, 6, 1), paths=200).poisson_gamma
    assert "cannot be reached" in pg.reason
    assert "cannot be estimated" not in pg.reason


# --------------------------------------------------------------------------- trend maths
def test_trend_intensity_and_inversion_match_quadrature():
    """Two opening groups, rates decaying at γ: ∫Λ matches numerical quadrature and
    inverting it gives back the time."""
    gamma = np.array([0.0, 0.004, -0.001])
    draws = fc.RateDraws(np.array([0.0, 50.0]), np.array([[0.2, 0.1]] * 3), np.full(3, 0.1), gamma)
    for p, g in enumerate(gamma):

        def rate(s: float, g: float = g) -> float:
            first = 0.2 * np.exp(-g * s)
            return first + (0.1 * np.exp(-g * (s - 50.0)) if s >= 50 else 0.0)

        for t in (10.0, 50.0, 120.0):
            expected = integrate.quad(rate, 0, t, points=[50.0])[0]
            assert draws.cumulative_intensity(t)[p, 0] == pytest.approx(expected, rel=1e-9)
    e = draws.cumulative_intensity(np.array([7.0, 80.0]))
    back = draws.invert(e)
    np.testing.assert_allclose(back, np.array([[7.0, 80.0]] * 3), rtol=1e-9)


def test_inversion_with_every_site_open_already():
    """One opening group (the common case late in a trial, computed without a search):
    with and without a trend, inverting ∫Λ gives back the time; a path at rate 0 and a
    slowing path asked beyond its total intensity never get there."""
    for gamma in (np.array([0.0, 0.004, -0.001, 0.0, 0.01]), None):
        rates = np.array([[0.2], [0.2], [0.2], [0.0], [0.1]])
        draws = fc.RateDraws(np.array([0.0]), rates, np.full(5, 0.1), gamma)
        e = draws.cumulative_intensity(np.array([7.0, 80.0]))
        back = draws.invert(e)
        np.testing.assert_allclose(back[[0, 1, 2, 4]], np.array([[7.0, 80.0]] * 4), rtol=1e-9)
        assert np.all(np.isinf(back[3]))
        if gamma is not None:  # total intensity 0.1 / 0.01 = 10 on the slowing path
            assert np.isinf(draws.invert(np.array([[5.0, 10.5]] * 5))[4, 1])


def test_inversion_finds_each_arrivals_opening_group_in_order_or_not():
    """Six opening groups (one recruiting nobody), paths with and without a trend: every
    arrival's time brings the path's intensity to it (checked through
    ``cumulative_intensity``, which searches the offsets, not the knots), or the path never
    gets there; and arrivals in order along a row (the chart's, placed among the knots the
    other way round) invert to exactly what the same arrivals shuffled, or fewer of them,
    do."""
    rng = np.random.default_rng(7)
    paths = 40
    offsets = np.array([0.0, 10.0, 30.0, 31.0, 90.0, 200.0])
    rates = rng.gamma(2.0, 0.05, (paths, len(offsets)))
    rates[:, 2] = 0.0  # a group that opens and recruits nobody: two equal knots
    rates[5] = 0.0  # a path recruiting nobody at all
    gamma = np.where(np.arange(paths) % 3 == 0, 0.0, rng.normal(0.0, 0.004, paths))
    gamma[7] = 0.05  # slows so fast that most arrivals never come
    draws = fc.RateDraws(offsets, rates, np.full(paths, 0.1), gamma)
    e = np.cumsum(rng.standard_exponential((paths, 30)), axis=1)  # in order along each row
    t = draws.invert(e)
    reached = np.isfinite(t)
    assert not reached[5].any() and not reached[7].all() and reached.mean() > 0.5
    for p, m in zip(*np.nonzero(reached), strict=True):
        assert draws.cumulative_intensity(t[p, m])[p, 0] == pytest.approx(e[p, m], rel=1e-9)
    assert set(np.nonzero(~reached)[0]) == {5, 7}
    # The slowing path never gets past its total intensity: ∫Λ by day 200 + rate·(1/γ).
    total = draws.cumulative_intensity(200.0)[7, 0] + draws.rate[7, -1] / 0.05
    assert np.all(e[7][~reached[7]] >= total) and np.all(e[7][reached[7]] < total)
    order = np.argsort(rng.random(e.shape), axis=1)
    shuffled = np.take_along_axis(e, order, axis=1)
    np.testing.assert_array_equal(draws.invert(shuffled), np.take_along_axis(t, order, axis=1))
    # Fewer arrivals than later openings per row: the plain search, the same times.
    np.testing.assert_array_equal(draws.invert(e[:, :3]), t[:, :3])


def test_slowing_path_may_never_reach_the_target():
    """Rate 0.1/day decaying at γ = 0.01/day: the remaining intensity is 0.1/0.01 = 10, so
    P(10 more never come) = P(Poisson(10) ≤ 9) = 0.458."""
    draws = fc.RateDraws(np.array([0.0]), np.full((40_000, 1), 0.1), np.full(40_000, 0.1))
    draws.gamma = np.full(40_000, 0.01)
    t = draws.arrival_times(10, np.random.default_rng(1))
    assert np.mean(~np.isfinite(t)) == pytest.approx(stats.poisson.cdf(9, 10), abs=0.01)


def test_trend_posterior_finds_slowing_and_no_slowing():
    """200 sites, 3 years: rates falling 50 %/year are seen as slowing (interval below 0);
    constant rates put the interval around 0."""
    start = D(2020, 1, 1)
    results = {}
    for decline in (0.5, 0.0):
        rng = np.random.default_rng(18)
        act = rng.uniform(0, 300, size=200).round()
        sites, enrollment, _ = simulate_trial(
            200, 3.0, 3 / 0.05, act, 10_000, rng, start, decline, allow_never=True
        )
        as_of = start + dt.timedelta(days=3 * 365)
        plan = fc.classify_sites(sites, enrollment, as_of, start)
        from dashboard.forecast.prepared import prepare, since_open

        post = fc.fit_trend(plan.k, plan.tau, since_open(prepare(sites, enrollment), plan, as_of))
        results[decline] = post.change_per_year()
    slow = results[0.5]
    assert slow["hi95"] < 0 and slow["median"] == pytest.approx(-0.5, abs=0.15)
    flat = results[0.0]
    assert flat["lo95"] <= 0 <= flat["hi95"] and abs(flat["median"]) < 0.1


def test_sites_needed_lag_after_deadline_gives_nothing_and_lags_cost_sites():
    draws = fc.RateDraws(np.array([0.0]), np.full((2000, 1), 0.05), np.full(2000, 0.05))
    alpha, beta = np.full(2000, 1e4), np.full(2000, 1e4 / 0.05)
    table = fc.sites_needed_table(
        draws,
        alpha,
        beta,
        remaining=30,
        as_of=D(2025, 1, 1),
        deadlines=[fc.Deadline("planned completion", D(2025, 7, 20))],
        lags=(0, 90, 250),
    )
    rows = {r.lag_days: r for r in table.deadlines[0].rows}
    # 200 days: existing 0.05 × 200 = 10 expected; each new site with a 60-day ramp, lag 0:
    # 0.05 × (200 − 30) = 8.5. Smallest k with P(Pois(10 + 8.5k) ≥ 30) ≥ 0.8, by hand.
    k0 = next(k for k in range(100) if stats.poisson.sf(29, 10 + 8.5 * k) >= 0.8)
    assert rows[0].smallest_k_for_target_probability == k0
    # Lag 90: 110 days, 0.05 × (110 − 30) = 4 each.
    k90 = next(k for k in range(100) if stats.poisson.sf(29, 10 + 4 * k) >= 0.8)
    assert rows[90].smallest_k_for_target_probability == k90
    assert rows[250].smallest_k_for_target_probability is None


def test_cli_lags_are_configurable_and_checked(data_dir):
    runner = CliRunner()
    args = ["forecast", "--json", "--data-dir", str(data_dir), "--paths", "500"]
    ok = runner.invoke(main, [*args, "--lags", "30,0"])
    assert ok.exit_code == 0, ok.output
    table = json.loads(ok.output)["poisson_gamma"]["sites_needed"]
    assert table["lags_days"] == [0, 30]
    bad = runner.invoke(main, [*args, "--lags", "soon"])
    assert bad.exit_code != 0 and "--lags" in bad.output and "Traceback" not in bad.output


def test_sites_that_stopped_recruiting_give_no_invented_date():
    """20 sites that randomized 3 patients each in their first two months and none in the
    next three years: the trend says they have stopped; most paths never reach 200, and the
    median and upper dates say so (null) rather than inventing a date."""
    start = D(2021, 1, 1)
    ids = [f"{i:02d}" for i in range(1, 21)]
    sites = pd.DataFrame(
        {
            "site_id": ids,
            "facility": ids,
            "city": "c",
            "country": "France",
            "status": "RECRUITING",
            "activation_date": pd.to_datetime([start] * 20),
            "target": pd.array([pd.NA] * 20, dtype="Int64"),
        }
    )
    days = [start + dt.timedelta(days=d) for d in (10, 30, 55)]
    rand = pd.to_datetime([d for _ in ids for d in days])
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(60)],
            "site_id": [s for s in ids for _ in days],
            "screening_date": rand,
            "randomization_date": rand,
            "status": "RANDOMIZED",
        }
    )
    trial = _trial(start, D(2026, 1, 1), 200)
    result = fc.forecast(trial, sites, enrollment, D(2024, 3, 1), paths=2000)
    pg = result.poisson_gamma
    assert pg.trend.interval_95[1] < 0  # slowing, surely
    assert pg.probability_never > 0.5
    assert pg.median_target_date is None and pg.interval_95[1] is None
    assert any("never" in note for note in result.notes)
    assert pg.probability_by[D(2026, 1, 1)] < 0.05


@pytest.mark.slow
def test_falling_rates_calibration_small():
    """40 trials whose site rates fall 30 %/year, forecast from half the target. The bench
    (150 trials) gives 0.70 for the 80 % interval; constant rates alone give ≈ 0.05 (the
    dates are months too early). With 40 trials the SD is 0.07: ≥ 0.5 fails only the
    constant-rate model."""
    start, target = D(2023, 1, 2), 74
    trial = _trial(start, start + dt.timedelta(days=1500), target)
    hits = 0
    runs = 40
    for seed in range(runs):
        rng = np.random.default_rng(77_000 + seed)
        act = np.minimum(np.round(rng.gamma(1.6, 110.0, size=43)), 700)
        sites, enrollment, true_date = simulate_trial(
            43, 1.5, 600.0, act, target, rng, start, 0.3, allow_never=True
        )
        as_of = enrollment["randomization_date"].iloc[target // 2 - 1].date()
        lo, hi = fc.forecast(
            trial, sites, enrollment, as_of, paths=1000, seed=seed
        ).poisson_gamma.interval_80
        lo_ok = lo is not None and (true_date is None or lo <= true_date)
        hi_ok = hi is None or (true_date is not None and true_date <= hi)
        hits += lo_ok and hi_ok
    assert hits / runs >= 0.5


def test_latin_hypercube_normals_take_one_draw_from_each_slice_of_the_normal_law():
    """Each column of n draws falls once in each of the n equally likely slices of N(0, 1)
    (the stratification), the columns are paired at random, and the law is normal."""
    from dashboard.forecast.trend import latin_hypercube_normals

    n = 997
    z = latin_hypercube_normals(n, np.random.default_rng(3))
    assert z.shape == (n, 2) and np.isfinite(z).all()
    for column in z.T:
        slices = np.floor(stats.norm.cdf(column) * n).astype(int)
        assert sorted(slices) == list(range(n))
    assert abs(np.corrcoef(z.T)[0, 1]) < 0.1  # not paired slice for slice
    pooled = np.concatenate(
        [latin_hypercube_normals(50, np.random.default_rng(s)) for s in range(40)]
    )
    assert stats.kstest(pooled.ravel(), "norm").pvalue > 0.01
    assert latin_hypercube_normals(1, np.random.default_rng(0)).shape == (1, 2)


def test_stratified_path_parameters_cut_the_noise_of_a_smooth_average():
    """The reason for the stratification: the mean over 300 paths of a smooth function of
    the mean rate (here E[μ], known in closed form) moves far less from seed to seed than
    the same mean over 300 independent draws of the same normal law, and is as unbiased."""
    from dashboard.forecast import trend

    fit = fc.fit_gamma_rates([3, 5, 1, 8, 2], [300, 280, 150, 400, 200])
    posterior = fc.TrendPosterior(np.array([0.0]), np.array([1.0]), [fit])
    s = trend.stratum_normal(fit, 19.0, None)
    stratified, independent = [], []
    for seed in range(60):
        p = trend.draw_path_parameters(posterior, 19.0, None, 300, np.random.default_rng(seed))
        stratified.append(float(np.mean(p.alpha / p.beta)))
        z = np.random.default_rng(1000 + seed).standard_normal(300)
        independent.append(float(np.mean(np.exp(s.m_post + s.sd_m * z))))
    exact = math.exp(s.m_post + s.sd_m**2 / 2)  # E[μ] for ln μ ~ N(m, sd²)
    assert np.std(stratified) < np.std(independent) / 5
    assert np.mean(stratified) == pytest.approx(exact, rel=0.002)
    assert np.mean(independent) == pytest.approx(exact, rel=0.02)
