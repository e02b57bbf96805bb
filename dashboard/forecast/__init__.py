"""Forecast step: when will the trial reach its target, and how sure can we be?

Two methods, as pure functions of the trial, its sites and its enrollment as of one date:

* **Weighted linear** (the method of the R package accrualPlot): least squares of the
  cumulative count on the date, later points weighted more. What statisticians quote
  first; gives a date but no interval, and knows nothing of sites.
* **Poisson–gamma** (Anisimov & Fedorov 2007, *Statistics in Medicine* 26:4958): each site
  recruits as a Poisson process whose rate is drawn from a Gamma(α, β) law common to the
  sites. α and β are fitted by maximum likelihood across the open sites; each site's rate
  is then known through its posterior Gamma(α + k_i, β + τ_i), and sites that open later
  start at the prior. Monte Carlo paths give the distribution of the date the target is
  reached, P(target by a date), the expected count by a date, and how many more sites
  would be needed. The uncertainty of (α, β) itself is carried by drawing them per path
  from the normal approximation of the likelihood (otherwise intervals are too narrow).

Conventions (the same as :mod:`dashboard.metrics`):

* ``as_of`` is the end of that day: a patient randomized on ``as_of`` is counted, and a
  simulated time ``t`` days after ``as_of`` falls on day ``as_of + ceil(t)``.
* A site has been open ``τ_i = as_of − activation`` days (activation = ``activation_date``
  of sites.csv, else the trial start date).
* Sites are classified by :func:`classify_sites` (see its docstring): only RECRUITING sites
  opened by ``as_of`` give data; a RECRUITING site whose activation date is after ``as_of``
  (looking back in time) or a NOT_YET_RECRUITING site with a planned activation date after
  ``as_of`` opens at that date with the prior rate; every other site is left out and listed.
* Dates in the past of ``as_of`` have known outcomes: P(target by a past date) is 0 or 1 and
  the count by a past date is the observed count.
* No date is ever infinite or NaN: beyond ``MAX_FORECAST_DAYS`` a date is ``None`` with a
  reason.

The entry point is :func:`forecast` (the ``forecast`` CLI command and the dashboard call it);
the lower-level functions are public so that tests can check them against closed forms.

The mean rate's uncertainty is always drawn, with the protocol's plan as a weak prior
(:mod:`.trend`); site rates may slow down (a trend averaged with the constant model,
:mod:`.trend`); "sites needed" is a decision table over activation lags
(:mod:`.sites_needed`). Modules: :mod:`.linear`, :mod:`.sites`, :mod:`.gamma_fit`,
:mod:`.simulation`, :mod:`.trend`, :mod:`.sites_needed`, :mod:`.core`, and
:mod:`.completion_law` (the page's target date, integrated instead of simulated). The
terminal text of a forecast is :func:`dashboard.report_text.format_forecast`.
"""

from .common import (
    CHART_HORIZON_CAP_DAYS,
    CHART_MAX_PATHS,
    CHART_STEP_DAYS,
    DEFAULT_PATHS,
    DEFAULT_SEED,
    MAX_ADDITIONAL_SITES,
    MAX_FORECAST_DAYS,
    QUANTILES,
    TARGET_PROBABILITY,
)
from .core import forecast
from .gamma_fit import (
    GammaFit,
    covariance_from_hessian,
    fit_gamma_rates,
    negbin_hessian,
    negbin_log_likelihood,
)
from .linear import LinearForecast, linear_forecast, linear_points, weighted_slope
from .result import (
    ChartPaths,
    ExpectedCount,
    Forecast,
    PlannedSite,
    PoissonGammaForecast,
    Prior,
    SitesLeftOut,
    SitesNeeded,
    SitesNeededDeadline,
    SitesNeededRow,
    Trend,
)
from .simulation import RateDraws, decay_integral, draw_site_rates
from .sites import SitePlan, classify_sites
from .sites_needed import Deadline, sites_needed_table
from .trend import PlanPrior, TrendPosterior, draw_path_parameters, fit_trend, plan_prior

__all__ = [
    "CHART_HORIZON_CAP_DAYS",
    "CHART_MAX_PATHS",
    "CHART_STEP_DAYS",
    "DEFAULT_PATHS",
    "DEFAULT_SEED",
    "MAX_ADDITIONAL_SITES",
    "MAX_FORECAST_DAYS",
    "QUANTILES",
    "TARGET_PROBABILITY",
    "ChartPaths",
    "Deadline",
    "ExpectedCount",
    "Forecast",
    "PlannedSite",
    "PoissonGammaForecast",
    "Prior",
    "SitesLeftOut",
    "SitesNeeded",
    "SitesNeededDeadline",
    "SitesNeededRow",
    "Trend",
    "GammaFit",
    "LinearForecast",
    "RateDraws",
    "SitePlan",
    "classify_sites",
    "covariance_from_hessian",
    "decay_integral",
    "draw_path_parameters",
    "fit_trend",
    "plan_prior",
    "sites_needed_table",
    "PlanPrior",
    "TrendPosterior",
    "draw_site_rates",
    "fit_gamma_rates",
    "forecast",
    "linear_forecast",
    "linear_points",
    "negbin_hessian",
    "negbin_log_likelihood",
    "weighted_slope",
]
