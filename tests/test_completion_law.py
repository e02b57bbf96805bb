"""The integrated target-date law (:mod:`dashboard.forecast.completion_law`) against
computations it shares no code with: scipy's numerical integration of the gamma–Poisson
law, plain per-site draws, a brute-force search over every day, and the moments of the
parameter law it integrates over."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from dashboard import forecast as fc
from dashboard.forecast.completion_law import (
    BRACKET_Z,
    MIN_STRATUM_WEIGHT,
    CompletionLaw,
    Nodes,
    parameter_nodes,
    simulated_brackets,
)
from dashboard.forecast.precision import quantile_band_ranks
from dashboard.forecast.trend import fit_trend, plan_prior, stratum_normal
from tests.test_forecast import make_sites, make_trial


def one_node(alpha: float, beta: float, gamma: float = 0.0) -> Nodes:
    return Nodes(
        np.array([alpha]),
        np.array([beta]),
        np.zeros(1, dtype=np.intp),
        np.array([gamma]),
        np.ones(1),
    )


def test_one_site_is_the_exact_gamma_poisson_law():
    """One open site, known (α, β), no trend: Λ(t) = λt with λ ~ Gamma(α + k, β + τ)
    exactly, so nothing is approximated. Reference: ∫ P(Poisson(λt) ≥ n) dGamma(λ)."""
    alpha, beta, k, tau, n = 1.7, 90.0, 4.0, 200.0, 6
    law = CompletionLaw(one_node(alpha, beta), np.array([k]), np.array([tau]), np.array([]))
    law_a, law_b = alpha + k, beta + tau
    for t in (30.0, 150.0, 400.0, 1500.0):

        def integrand(lam: float, t: float = t) -> float:
            return special.gammainc(n, lam * t) * stats.gamma.pdf(lam, law_a, scale=1 / law_b)

        ref, _ = integrate.quad(integrand, 0, np.inf, limit=200)
        assert law.probability(n, np.array([t]))[0] == pytest.approx(ref, abs=1e-9)


def test_open_and_planned_sites_with_a_trend_match_per_site_draws():
    """Sites open for different times, two opening later, slowing rates: the moment-matched
    law against 400,000 draws of every site's rate and the Poisson count by t."""
    alpha, beta, gamma = 2.0, 150.0, 0.6 / 365.25
    k = np.array([0.0, 3.0, 5.0, 1.0, 8.0])
    tau = np.array([30.0, 200.0, 200.0, 90.0, 400.0])
    planned = np.array([60.0, 60.0, 180.0])
    law = CompletionLaw(one_node(alpha, beta, gamma), k, tau, planned)
    rng = np.random.default_rng(11)
    m = 400_000

    def decay(u):
        return -np.expm1(-gamma * np.maximum(u, 0.0)) / gamma

    rates = rng.standard_gamma(alpha + k[None, :], size=(m, len(k))) / (beta + decay(tau))
    today = rates * np.exp(-gamma * tau)
    later = rng.standard_gamma(alpha, size=(m, len(planned))) / beta
    n = 12
    for t in (100.0, 300.0, 700.0):
        lam = today.sum(axis=1) * decay(t) + (later * decay(t - planned)).sum(axis=1)
        ref = np.mean(rng.poisson(lam) >= n)
        assert law.probability(n, np.array([t]))[0] == pytest.approx(ref, abs=0.004)


#: The searches below are checked on three sites, one planned, slowing 20 %/year, 9 to go.
SEARCH_N = 9
SEARCH_QS = np.array([0.025, 0.1, 0.5, 0.9, 0.975])


def _search_case() -> tuple[CompletionLaw, np.ndarray, np.ndarray, np.ndarray]:
    """The law, every day to 4,000, P by each, and the brute-force day of each SEARCH_QS."""
    k = np.array([2.0, 0.0, 6.0])
    tau = np.array([120.0, 40.0, 300.0])
    law = CompletionLaw(one_node(1.2, 60.0, 0.2 / 365.25), k, tau, np.array([45.0]))
    days = np.arange(0.0, 4001.0)
    p = law.probability(SEARCH_N, days)
    brute = np.array([days[np.argmax(p >= q)] for q in SEARCH_QS])
    return law, days, p, brute


def test_quantile_is_the_first_day_the_probability_reaches_it():
    law, _, p, brute = _search_case()
    assert np.all(np.diff(p) >= -1e-12)  # a law: never decreasing in t
    assert list(law.quantile_days(SEARCH_N, SEARCH_QS, 36500.0)) == list(brute)


def test_brackets_from_simulated_dates_change_no_quantile_even_when_they_miss():
    law, days, p, brute = _search_case()
    n, qs = SEARCH_N, SEARCH_QS
    rng = np.random.default_rng(5)
    # Dates drawn from the law itself (inverse CDF on the day grid), a shifted copy that
    # misses every quantile, and a sample with never-reached paths.
    good = days[np.searchsorted(p, rng.uniform(0, p[-1], 1000))]
    for simulated in (good, good * 3 + 900, np.concatenate([good[:600], np.full(400, np.inf)])):
        brackets = simulated_brackets(simulated, qs)
        assert list(law.quantile_days(n, qs, 36500.0, brackets=brackets)) == list(brute)


def test_a_bracket_among_never_reached_paths_gets_finite_stand_ins_and_fewer_steps():
    """Paths that never get there put a quantile's upper bracket at infinity; the latest
    finite date (and its double and quadruple) stand in for it, the answer is unchanged,
    and the search takes fewer evaluations than halving down from a century."""
    law, days, p, brute = _search_case()
    n, qs = SEARCH_N, SEARCH_QS
    rng = np.random.default_rng(7)
    finite = days[np.searchsorted(p, rng.uniform(0, p[-1], 560))]
    simulated = np.concatenate([finite, np.full(40, np.inf)])
    brackets = simulated_brackets(simulated, qs)
    top = finite.max()
    assert {top, 2 * top, 4 * top} <= set(brackets.tolist())
    counted: list[int] = []

    class Counting(CompletionLaw):
        def probability(self, n, days):  # type: ignore[no-untyped-def]
            counted.append(1)
            return super().probability(n, days)

    counting = Counting(
        law.nodes, np.array([2.0, 0.0, 6.0]), np.array([120.0, 40.0, 300.0]), np.array([45.0])
    )
    assert list(counting.quantile_days(n, qs, 36500.0, brackets=brackets)) == list(brute)
    with_stand_ins = len(counted)
    counted.clear()
    lo, hi = quantile_band_ranks(len(simulated), qs, BRACKET_Z)  # without the stand-ins
    bare = np.partition(simulated, np.concatenate([lo, hi]))[np.concatenate([lo, hi])]
    assert list(counting.quantile_days(n, qs, 36500.0, brackets=bare)) == list(brute)
    assert with_stand_ins < len(counted)


def test_guesses_from_another_rule_change_no_quantile_however_far_off():
    """The finer rules start from the coarser rule's quantiles: right, a day or a few
    off, far off either way, infinite or missing, the answer is the brute-force day."""
    law, _, _, brute = _search_case()
    n, qs = SEARCH_N, SEARCH_QS
    for shift in (0, 1, -1, 3, -4, 40, -200, 3000):
        near = np.maximum(brute + shift, 1.0)
        assert list(law.quantile_days(n, qs, 36500.0, near=near)) == list(brute), shift
    for near in (np.full(5, np.inf), np.full(5, 1.0), brute * 0.5 + 0.3):
        assert list(law.quantile_days(n, qs, 36500.0, near=near)) == list(brute)
    # A horizon inside the law: the quantiles beyond it are infinite, the others exact.
    short = law.quantile_days(n, qs, float(brute[2]), near=brute)
    assert list(short[:3]) == list(brute[:3]) and np.all(np.isinf(short[3:]))


def test_simulated_brackets_hold_the_quantiles_of_their_law():
    # Order statistics at ranks n·q ∓ 3√(n·q(1−q)), written out here: for exponential
    # draws the true quantile −ln(1−q) lies between them in (nearly) all of 200 samples,
    # and both are among the brackets.
    qs = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
    true = -np.log1p(-qs)
    rng = np.random.default_rng(3)
    n = 1000
    half = 3 * np.sqrt(n * qs * (1 - qs))
    lo_rank = np.floor(n * qs - half).astype(int)
    hi_rank = np.ceil(n * qs + half).astype(int)
    inside = np.zeros(len(qs))
    for _ in range(200):
        t = rng.exponential(size=n)
        ordered = np.sort(t)
        brackets = set(simulated_brackets(t, qs))
        assert brackets >= set(ordered[lo_rank]) | set(ordered[hi_rank])
        inside += (ordered[lo_rank] <= true) & (true <= ordered[hi_rank])
    assert np.all(inside >= 195)


def test_a_quantile_beyond_the_horizon_is_infinite_and_never_is_a_probability():
    # Strong slowing: the finite total intensity leaves a real chance of never.
    law = CompletionLaw(one_node(1.0, 50.0, 2.0 / 365.25), np.array([1.0]), np.array([100.0]), [])
    never = law.probability_never(20)
    assert 0.5 < never <= 1.0
    assert np.isinf(law.quantile_days(20, np.array([0.975]), 36500.0)[0])


def test_parameter_nodes_integrate_the_law_the_paths_are_drawn_from():
    """Per γ stratum, the nodes' weighted mean and variance of ln μ are the stratum's
    normal (Gauss–Hermite is exact for them, up to the far-tail nodes left out), and the
    strata keep their posterior weights."""
    rng = np.random.default_rng(5)
    k = rng.poisson(3.0, size=25).astype(float)
    tau = rng.uniform(60, 500, size=25)
    posterior = fit_trend(k, tau, float(np.sum(k * tau / 2)))
    prior = plan_prior(120, 400.0, tau, np.array([]))
    nodes = parameter_nodes(posterior, float(k.sum()), prior)
    assert nodes.weight.sum() == pytest.approx(1.0)
    ln_mu = np.log(nodes.alpha / nodes.beta)
    for pos, gamma in enumerate(nodes.gammas):
        j = int(np.flatnonzero(posterior.gammas == gamma)[0])
        sel = nodes.gamma_index == pos
        w = nodes.weight[sel]
        kept = posterior.weights[posterior.weights > MIN_STRATUM_WEIGHT].sum()
        # Exact but for the far-tail nodes left out (under 1e-9 of the whole each).
        assert w.sum() == pytest.approx(posterior.weights[j] / kept, rel=1e-3)
        s = stratum_normal(posterior.fits[j], float(k.sum()), prior)
        mean = np.sum(w * ln_mu[sel]) / w.sum()
        var = np.sum(w * (ln_mu[sel] - mean) ** 2) / w.sum()
        assert mean == pytest.approx(s.m_post, abs=1e-4 * s.sd_m)
        assert math.sqrt(var) == pytest.approx(s.sd_m, rel=1e-3)


# --- on generated trials: whatever the data, a law (ordered dates, probabilities)


@st.composite
def trial_shapes(draw: st.DrawFn):
    """Sites open, opening later, not yet recruiting without a date, closed; patients at
    any of them (or at a site the file does not list) on any day around the as-of."""
    start = dt.date(2023, 1, 1)
    n_sites = draw(st.integers(min_value=1, max_value=12))
    rows = []
    for i in range(n_sites):
        status = draw(
            st.sampled_from(["RECRUITING", "RECRUITING", "NOT_YET_RECRUITING", "COMPLETED"])
        )
        offset = draw(st.one_of(st.none(), st.integers(min_value=-30, max_value=700)))
        day = None if offset is None else (start + dt.timedelta(days=offset)).isoformat()
        rows.append((f"{i:02d}", status, day))
    n_patients = draw(st.integers(min_value=0, max_value=60))
    sites_for = st.sampled_from([r[0] for r in rows] + ["99"])
    patients = [
        (draw(sites_for), start + dt.timedelta(days=draw(st.integers(min_value=0, max_value=600))))
        for _ in range(n_patients)
    ]
    dates = pd.to_datetime([d for _, d in patients]).astype("datetime64[ns]")
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{j}" for j in range(n_patients)],
            "site_id": [s for s, _ in patients],
            "screening_date": dates,
            "randomization_date": dates,
            "status": "RANDOMIZED",
        }
    )
    target = draw(st.integers(min_value=1, max_value=120))
    completion = start + dt.timedelta(days=draw(st.integers(min_value=200, max_value=1500)))
    as_of = start + dt.timedelta(days=draw(st.integers(min_value=-10, max_value=700)))
    trend = draw(st.booleans())
    return (
        make_trial(start=start, completion=completion, target=target),
        make_sites(rows),
        enrollment,
        as_of,
        trend,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=trial_shapes())
def test_integrated_target_date_is_a_law_on_any_trial(shape):
    trial, sites, enrollment, as_of, trend = shape
    result = fc.forecast(trial, sites, enrollment, as_of, integrate=True, paths=50, trend=trend)
    pg = result.poisson_gamma
    if result.remaining == 0 or pg.reason is not None:
        return
    assert pg.completion_method == "integrated"
    dates = [
        pg.interval_95[0],
        pg.interval_80[0],
        pg.median_target_date,
        pg.interval_80[1],
        pg.interval_95[1],
    ]
    known = [d for d in dates if d is not None]
    assert known == sorted(known)
    # Beyond the horizon is the upper end only: once a quantile is None, the later ones are.
    first_none = next((i for i, d in enumerate(dates) if d is None), len(dates))
    assert all(d is None for d in dates[first_none:])
    assert all(d > as_of for d in known)
    assert pg.probability_never is not None and pg.probability_beyond_horizon is not None
    assert 0.0 <= pg.probability_never <= pg.probability_beyond_horizon + 1e-9 <= 1.0 + 1e-9
    by = sorted(pg.probability_by.items())
    ps = [p for _, p in by if p is not None]
    assert all(0.0 <= p <= 1.0 for p in ps) and ps == sorted(ps)
    assert pg.median_numerical_error_days is None or pg.median_numerical_error_days >= 0


def test_negative_binomial_tail_matches_scipy_even_far_out_in_a_heavy_tail():
    """The tail against scipy's negative binomial, on light and heavy tails, near and far
    from the mean: a heavy tail 20 standard deviations out is still a real probability."""
    from dashboard.forecast.completion_law import negbin_tail

    cases = [
        (30.0, 10.0, 25),
        (30.0, 10.0, 200),
        (1.0, 100.0, 200),
        (5.0, 500.0, 60),
        (2.0, 0.0, 4),
        # a small, skewed mean 12.6 standard deviations below n: still ~4e-5, not 0
        (0.054291290998130466, 0.0005821436340092403, 3),
    ]
    for mean, var, n in cases:
        got = negbin_tail(n, np.array([mean]), np.array([var]))[0]
        if var == 0:
            ref = stats.poisson.sf(n - 1, mean)
        else:
            ref = stats.nbinom.sf(n - 1, mean * mean / var, mean / (mean + var))
        assert got == pytest.approx(ref, rel=1e-6, abs=1e-12), (mean, var, n)


def test_negative_binomial_tail_summed_term_by_term_matches_scipy():
    """Large arrays take the term-by-term sum (not scipy's betainc): the same tail as
    scipy's negative binomial and Poisson over means, variances and n from 1 to 150,
    with no warning where (1 − x)^shape underflows."""
    import warnings

    from dashboard.forecast import completion_law as cl

    rng = np.random.default_rng(1)
    for n in (1, 3, 20, 73, 150):
        size = 20 * n + 100
        assert n <= cl.SUM_MAX_TERMS and size >= cl.SUM_MIN_ELEMENTS_PER_TERM * n
        mean = rng.lognormal(np.log(n), 2.5, size)
        var = mean * rng.lognormal(0, 3, size)
        var[::7] = 0.0
        mean[2], var[2] = 5000.0, 1.0  # (1 − x)^shape underflows: the betainc fallback
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = cl.negbin_tail(n, mean, var)
        spread = var > 0
        v = np.where(spread, var, 1.0)
        ref = np.where(
            spread,
            stats.nbinom.sf(n - 1, mean * mean / v, mean / (mean + v)),
            stats.poisson.sf(n - 1, mean),
        )
        assert np.max(np.abs(got - ref)) < 1e-8, n


def test_parameter_nodes_of_strata_with_and_without_an_alpha_spread():
    """Strata whose α is fixed given μ (no covariance: α at its bound) take one α node,
    the others the whole rule, each stratum with its own normal and weight, in order."""
    spread = fc.fit_gamma_rates([0, 9, 1, 14, 2, 0, 7], [300, 280, 310, 290, 305, 295, 300])
    alike = fc.fit_gamma_rates([3, 3, 3, 3], [300, 300, 300, 300])
    assert spread.cov is not None and alike.cov is None
    posterior = fc.TrendPosterior(
        np.array([0.0, 0.001, 0.002]), np.array([0.5, 0.3, 0.2]), [spread, alike, spread]
    )
    nodes = parameter_nodes(posterior, 36.0, None, mu_nodes=8, alpha_nodes=3)
    counts = np.bincount(nodes.gamma_index, minlength=3)
    assert counts[1] <= 8 < counts[0] and counts[0] == counts[2] <= 24
    assert list(nodes.gamma_index) == sorted(nodes.gamma_index)  # stratum by stratum
    ln_mu = np.log(nodes.alpha / nodes.beta)
    for pos, (fit, weight) in enumerate(zip(posterior.fits, posterior.weights, strict=True)):
        sel = nodes.gamma_index == pos
        w = nodes.weight[sel]
        assert w.sum() == pytest.approx(weight, rel=1e-6)
        s = stratum_normal(fit, 36.0, None)
        assert np.sum(w * ln_mu[sel]) / w.sum() == pytest.approx(s.m_post, abs=1e-6)
        if fit.cov is None:
            assert np.allclose(nodes.alpha[sel], fit.alpha)
