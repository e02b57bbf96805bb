"""An editor changes a site's activation date or target from the Data page's grid.

Before this, both were typed into sites.csv by hand, and a CSV opened in Excel is how
dates get mangled. Here a value is checked before anything is written, then written in
one transaction with its old and new value in the audit log (:func:`write_site_setting`;
the file's text comes from its owner, :func:`dashboard.sites.with_user_cell`):

- activation date: ``YYYY-MM-DD`` only (a day-first or month-first date would be a guess),
  not after today, not before the trial's start date; after the site's first
  randomization is saved but warned about (a site cannot randomize before it opens, so one
  of the two dates is probably wrong); blank clears it;
- target: a whole number ≥ 0; blank clears it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import pandas as pd

from .datadir import DataPaths, write_lock
from .sites import SitesError, StaleEdit, with_user_cell
from .transaction import commit, recover

EDITABLE = ("activation_date", "target")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[0-9]+")
#: Largest target accepted: a typo guard far above any trial's enrolment.
MAX_TARGET = 1_000_000


class EditRefused(ValueError):
    """The typed value is not acceptable; the message says why (nothing was written)."""


@dataclass(frozen=True)
class EditResult:
    """A saved edit: what was written and, when dates disagree, a warning for the editor."""

    site_id: str
    column: str
    old: str
    new: str
    warning: str | None = None


def canonical_text(value: object) -> str:
    """A grid cell as sites.csv spells it: "" for blank, ISO date, whole number."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_activation(
    text: str, *, today: dt.date, trial_start: dt.date | None, first_randomization: dt.date | None
) -> tuple[str, str | None]:
    """``text`` as a canonical activation date and a warning (or None); else EditRefused."""
    text = text.strip()
    if not text:
        return "", None
    if not _ISO.fullmatch(text):
        raise EditRefused(f"{text!r} is not a date as YYYY-MM-DD (for example 2024-03-15)")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise EditRefused(f"{text} is not a calendar date") from None
    if day > today:
        raise EditRefused(
            f"{text} is after today ({today.isoformat()}): a site opens on a past day"
        )
    if trial_start is not None and day < trial_start:
        raise EditRefused(
            f"{text} is before the trial's start date ({trial_start.isoformat()}); check the year"
        )
    warning = None
    if first_randomization is not None and day > first_randomization:
        warning = (
            f"saved, but {text} is after this site's first randomization "
            f"({first_randomization.isoformat()}): one of the two dates is probably wrong"
        )
    return day.isoformat(), warning


def check_target(text: str) -> str:
    """``text`` as a canonical site target ("" clears it); else EditRefused."""
    text = text.strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text:
        return ""
    if not _WHOLE.fullmatch(text):
        raise EditRefused(f"{text!r} is not a whole number ≥ 0")
    if int(text) > MAX_TARGET:
        raise EditRefused(f"{text} patients is not a plausible site target")
    return str(int(text))


@dataclass(frozen=True)
class SiteSettingChange:
    """One user-maintained cell of sites.csv to change: ``old`` is what the editor saw
    (canonical text: ISO date, whole number, or "" for blank), ``new`` what they typed,
    already checked."""

    site_id: str
    column: str
    old: str
    new: str


def write_site_setting(
    paths: DataPaths, change: SiteSettingChange, log_fields: dict[str, object] | None = None
) -> str:
    """Write one checked change to sites.csv and log old → new, together (one transaction:
    :func:`dashboard.transaction.commit`); sites.csv's text comes from its owner,
    :func:`dashboard.sites.with_user_cell`. Returns the new file's SHA-256."""
    with write_lock(paths):
        recover(paths)
        with open(paths.sites, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
        edited = with_user_cell(text, change.site_id, change.column, change.old, change.new)
        data = edited.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        entry = {
            "kind": "site_edit",
            "file": paths.sites.name,
            "sha256": digest,
            "result": "edited",
            "site_id": change.site_id,
            "column": change.column,
            "old": change.old or None,
            "new": change.new or None,
            **(log_fields or {}),
        }
        commit(paths, {paths.sites: data}, entry)
    return digest


def first_randomization(enrollment: pd.DataFrame, site_id: str) -> dt.date | None:
    dates = enrollment.loc[enrollment["site_id"] == site_id, "randomization_date"].dropna()
    return None if dates.empty else pd.Timestamp(dates.min()).date()


def edit_site(
    paths: DataPaths,
    site_id: str,
    column: str,
    old: object,
    new: object,
    *,
    trial_start: dt.date | None,
    enrollment: pd.DataFrame,
    today: dt.date | None = None,
) -> EditResult:
    """Check and save one edit; :class:`EditRefused` (bad value, or changed meanwhile)."""
    if column not in EDITABLE:
        raise EditRefused(f"{column} cannot be edited here")
    today = today or dt.date.today()
    warning = None
    if column == "activation_date":
        value, warning = check_activation(
            canonical_text(new),
            today=today,
            trial_start=trial_start,
            first_randomization=first_randomization(enrollment, site_id),
        )
    else:
        value = check_target(canonical_text(new))
    old_text = canonical_text(old)
    if value == old_text:
        return EditResult(site_id, column, old_text, value)
    change = SiteSettingChange(site_id=str(site_id), column=column, old=old_text, new=value)
    try:
        write_site_setting(paths, change, {"warning": warning} if warning else None)
    except StaleEdit as exc:
        raise EditRefused(str(exc)) from None
    except SitesError as exc:
        raise EditRefused(f"sites.csv cannot be edited: {exc}") from None
    return EditResult(site_id, column, old_text, value, warning)
