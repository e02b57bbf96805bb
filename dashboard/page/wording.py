"""The page's sentences: counts, rates, dates and probabilities in the reader's words.

Plain functions of numbers returning text (and a Bootstrap tone where the sentence has
one); the mail and the components word things the same way through them.
"""

from __future__ import annotations

import datetime as dt

from .. import forecast as fc
from .. import metrics
from ..metrics import Pace, StatusChange, WeekChanges, WeekSite
from ..registry import STATUS_LABELS


def week_delta_text(delta: int) -> str:
    """ "+1 this week", "−2 this week", "no change this week"."""
    if delta == 0:
        return "no change this week"
    return f"{'+' if delta > 0 else '−'}{abs(delta)} this week"


def rate_text(rate: float) -> str:
    return f"{rate:.1f}/month"


def pace_comparison(current: float, required: float | None) -> tuple[str, str]:
    """(sentence, tone) comparing the current rate with a required one; tone is a
    Bootstrap colour: "success" on track, "warning" slightly behind, "danger" behind."""
    if required is None:
        return "no time left: the date has passed", "danger"
    if required <= 0:
        return "target reached", "success"
    now = f"{rate_text(current)} now vs {rate_text(required)} needed"
    if current <= 0:
        return f"{now} — no randomization in the last 90 days", "danger"
    ratio = required / current
    if ratio <= 1.0:
        return f"{now} — on track", "success"
    tone = "warning" if ratio < 1.25 else "danger"
    return f"{now} — {ratio:.1f}× behind", tone


def completion_text(days_to_completion: int) -> str:
    if days_to_completion > 0:
        return f"{days_to_completion} day{'s' if days_to_completion != 1 else ''} left"
    if days_to_completion == 0:
        return "completion is today"
    late = -days_to_completion
    return f"{late} day{'s' if late != 1 else ''} past"


def lpi_comparison(pace: Pace, last_patient_in: dt.date) -> tuple[str, str]:
    """The rate needed for the last patient to finish treatment by planned completion."""
    if pace.remaining <= 0:
        return "target reached", "success"
    if pace.days_to_last_patient_in is not None and pace.days_to_last_patient_in < 0:
        return f"last-patient-in date passed on {last_patient_in.isoformat()}", "danger"
    return pace_comparison(pace.current_rate_per_month, pace.required_rate_lpi_per_month)


def sites_delta_text(delta: int) -> str:
    """The Sites card's weekly change: sites whose *first* randomization fell in the week."""
    if delta == 0:
        return "no new site enrolling this week"
    sites = "site" if abs(delta) == 1 else "sites"
    return f"{'+' if delta > 0 else '−'}{abs(delta)} {sites} enrolling this week"


FORECAST_HORIZON_YEARS = fc.MAX_FORECAST_DAYS // 365


def probability_text(p: float | None) -> str:
    """A probability as a whole percentage: simulations do not support a decimal.

    Never rounds to a certainty that is not one: "< 1 %" and "> 99 %" stay apart from
    "0 %" and "100 %" (a known outcome: the date has passed, or the target is reached).
    """
    if p is None:
        return "—"
    if p <= 0:
        return "0 %"
    if p >= 1:
        return "100 %"
    if p < 0.01:
        return "< 1 %"
    if p > 0.99:
        return "> 99 %"
    return f"{round(100 * p)} %"


def probability_tone(p: float | None) -> str | None:
    """Bootstrap tone of a probability of reaching the target on time (as the pace card)."""
    if p is None:
        return None
    if p >= fc.TARGET_PROBABILITY:
        return "success"
    return "warning" if p >= 0.5 else "danger"


def forecast_date_text(value: str | None) -> str:
    return value or f"beyond {FORECAST_HORIZON_YEARS} years"


def months_apart_text(later: dt.date, earlier: dt.date, what: str) -> str:
    """ "≈8 months after planned completion", "≈2 months before …", "within a month of …",
    "≈9 years after …" (years from 24 months on)."""
    days = (later - earlier).days
    side = "after" if days > 0 else "before"
    months = round(abs(days) / metrics.MONTH_DAYS)
    if months == 0:
        return f"within a month of {what}"
    if months >= 24:
        return f"≈{round(abs(days) / 365.25)} years {side} {what}"
    unit = "month" if months == 1 else "months"
    return f"≈{months} {unit} {side} {what}"


def additional_sites_text(
    n: int | None, reason: str | None, lag_days: int | None = None
) -> tuple[str | None, bool]:
    """(sentence, muted) about the sites that would lift P(target on time) to 80 %."""
    goal = f"{fc.TARGET_PROBABILITY:.0%}".replace("%", " %")
    if n is None:
        return (reason, True) if reason else (None, False)
    if n == 0:
        return f"no additional site needed for {goal}", False
    sites = "site" if n == 1 else "sites"
    lag = f"opening after a {lag_days}-day lag" if lag_days is not None else "opening after a lag"
    return f"≈{n} more {sites} ({lag}) would be needed for {goal}", False


def forecast_precision_text(pg: fc.PoissonGammaForecast) -> str | None:
    """How precise the median date is: its numerical error when the target date's law was
    integrated (the page), its Monte Carlo error when it was simulated."""
    if pg.completion_method == "integrated" and pg.median_numerical_error_days is not None:
        days = round(pg.median_numerical_error_days)
        return (
            f"median integrated numerically: ±{days} day{'s' if days != 1 else ''} "
            "of numerical error"
        )
    if pg.median_mc_error_days is not None:
        return (
            f"{pg.paths:,} simulated paths: median ±{pg.median_mc_error_days:.1f} "
            "days of Monte Carlo error"
        )
    return None


def forecast_method_text(result: fc.Forecast | None) -> str:
    """One line naming the method, its simulations and whether parameter uncertainty is in."""
    pg = None if result is None else result.poisson_gamma
    paths = (pg.paths if pg else 0) or fc.DEFAULT_PATHS
    how = (
        f"target date integrated numerically, bands from {paths:,} simulations"
        if pg is not None and pg.completion_method == "integrated"
        else f"{paths:,} simulations"
    )
    uncertainty = (
        "parameter uncertainty included"
        if pg is None or pg.parameter_uncertainty
        else "plug-in parameters (their uncertainty could not be drawn)"
    )
    sites = ""
    if pg is not None and pg.sites_used:
        planned = len(pg.sites_planned)
        sites = f", {pg.sites_used} open" + (f" + {planned} planned" if planned else "") + " sites"
    return (
        f"Forecast: Poisson–gamma (Anisimov & Fedorov), {how}, {uncertainty}"
        f"{sites}. Linear trend: weighted least squares of the cumulative count (accrualPlot)."
    )


def week_count_text(n: int) -> str:
    """ "+2", "0", "−1": a week's change as a signed count."""
    return f"+{n}" if n > 0 else ("0" if n == 0 else f"−{-n}")


def week_range_text(week: WeekChanges, as_of: dt.date) -> str:
    """The seven days of the week: (since, as_of], written as first – last day."""
    first = week.since + dt.timedelta(days=1)
    return f"{first.isoformat()} – {as_of.isoformat()}"


def site_name(site: WeekSite | StatusChange) -> str:
    return f"{site.facility}, {site.city}" if site.city else str(site.facility)


def status_change_text(event: StatusChange) -> str:
    """ "CHU Tours, Tours: Not yet recruiting → Recruiting" (a site new to the registry
    has no status before)."""
    before = event.before
    was = STATUS_LABELS.get(before, before) if before else "new in the registry"
    now = STATUS_LABELS.get(event.after or "", event.after or "?")
    return f"{site_name(event)}: {was} → {now}"
