"""Per-trial settings (``trial.toml`` in the data dir): trial facts the registry lacks.

The registry record says who runs a trial, where and until when, but not how long each
patient is treated, nor what the team calls the trial. Those facts belong to the trial,
not to the code, so they live in the data dir::

    # trial.toml
    display_name = "SCLERITA"      # optional; default: the registry acronym, else the title
    treatment_days = 360           # optional; absent: no last-patient-in date anywhere
    [[planned_activation]]         # optional planned site-opening schedule
    date = "2023-06-01"
    sites = 10                     # cumulative number of sites planned open by that date

A file with a problem is refused whole with the file and key named; a data dir without
the file is valid (every setting is optional).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .datadir import DataPaths
from .registry import RegistryError, Trial, load_registry

SETTINGS_FILE = "trial.toml"


class SettingsError(ValueError):
    """trial.toml cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class PlannedActivation:
    """Sites planned open (cumulative) by a date."""

    date: dt.date
    sites: int


@dataclass(frozen=True)
class TrialSettings:
    display_name: str | None = None
    treatment_days: int | None = None
    planned_activation: tuple[PlannedActivation, ...] = ()


def settings_path(paths: DataPaths) -> Path:
    return paths.root / SETTINGS_FILE


def parse_settings(text: str, source: str) -> TrialSettings:
    """Read trial.toml strictly: unknown keys and wrong types are refused, not ignored."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{source}: not valid TOML ({exc})") from exc
    known = {"display_name", "treatment_days", "planned_activation"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(
            f"{source}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
        )
    name = raw.get("display_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise SettingsError(f"{source}: display_name must be a non-empty string")
    days = raw.get("treatment_days")
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36500
    ):
        raise SettingsError(f"{source}: treatment_days must be a whole number of days ≥ 1")
    plan = []
    for i, step in enumerate(raw.get("planned_activation") or []):
        where = f"{source}: planned_activation[{i}]"
        if not isinstance(step, dict):
            raise SettingsError(f"{where} must be a table with date and sites")
        when = step.get("date")
        if isinstance(when, str):
            try:
                when = dt.date.fromisoformat(when)
            except ValueError:
                raise SettingsError(f"{where}: date {when!r} is not YYYY-MM-DD") from None
        if not isinstance(when, dt.date) or isinstance(when, dt.datetime):
            raise SettingsError(f"{where}: date must be YYYY-MM-DD")
        sites = step.get("sites")
        if not isinstance(sites, int) or isinstance(sites, bool) or sites < 0:
            raise SettingsError(f"{where}: sites must be a whole number ≥ 0")
        plan.append(PlannedActivation(when, sites))
    plan.sort(key=lambda p: p.date)
    return TrialSettings(
        display_name=name.strip() if name else None,
        treatment_days=days,
        planned_activation=tuple(plan),
    )


def load_settings(paths: DataPaths) -> TrialSettings:
    path = settings_path(paths)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return TrialSettings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_settings(text, str(path))


def apply_settings(trial: Trial, settings: TrialSettings) -> Trial:
    return dataclasses.replace(
        trial, treatment_days=settings.treatment_days, name=settings.display_name
    )


def load_trial(paths: DataPaths) -> Trial:
    """The trial of a data dir: its registry record with the data dir's settings applied."""
    trial, _ = load_registry(paths.registry_file())
    return apply_settings(trial, load_settings(paths))


__all__ = [
    "SETTINGS_FILE",
    "PlannedActivation",
    "RegistryError",
    "SettingsError",
    "TrialSettings",
    "apply_settings",
    "load_settings",
    "load_trial",
    "parse_settings",
    "settings_path",
]
