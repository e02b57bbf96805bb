"""Registry step: a ClinicalTrials.gov API v2 study JSON becomes a :class:`Trial` and its locations.

The registry is the only source of sites, statuses and trial dates. Names are kept exactly
as registered (typos included); only structure is checked here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .dates import parse_iso_date

#: Every location status ClinicalTrials.gov uses, in the order the dashboard lists them,
#: then UNKNOWN for a location the record gives no status (common in older records).
LOCATION_STATUSES: tuple[str, ...] = (
    "RECRUITING",
    "NOT_YET_RECRUITING",
    "ENROLLING_BY_INVITATION",
    "ACTIVE_NOT_RECRUITING",
    "SUSPENDED",
    "COMPLETED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "UNKNOWN",
)

#: Human labels for the statuses (legends, tables, the PDF).
STATUS_LABELS: dict[str, str] = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "SUSPENDED": "Suspended",
    "COMPLETED": "Completed",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "AVAILABLE": "Available",
    "UNKNOWN": "Status not given",
}

#: What a registry trial id looks like; checked before the id is used in any file name.
NCT_ID_PATTERN = re.compile(r"NCT[0-9]{8}")


class RegistryError(ValueError):
    """A study JSON that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Trial:
    nct_id: str
    title: str
    acronym: str | None
    sponsor: str
    target: int
    start_date: dt.date
    planned_completion_date: dt.date
    last_updated: dt.date | None
    overall_status: str | None
    #: Days of treatment per patient, from the data dir's trial.toml (the registry has no
    #: such field); None: the trial never said, so no last-patient-in date is shown.
    treatment_days: int | None = None
    #: Name shown on the page, PDF and demo note; trial.toml may set it.
    name: str | None = None

    @property
    def registry_url(self) -> str:
        return f"https://clinicaltrials.gov/study/{self.nct_id}"

    @property
    def display_name(self) -> str:
        """How people call the trial: the settings' name, else the acronym, else the title."""
        return self.name or self.acronym or self.title

    @property
    def last_patient_in_date(self) -> dt.date | None:
        """Latest randomization that still lets the patient finish treatment by completion;
        None when the treatment duration is unknown."""
        if self.treatment_days is None:
            return None
        return self.planned_completion_date - dt.timedelta(days=self.treatment_days)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
        return out


#: A study record is ~100-500 kB; anything this large is not one (checked before reading).
MAX_STUDY_BYTES = 20_000_000
#: The API v2 study JSON nests ~8 levels; Python's parser recurses on each.
MAX_STUDY_DEPTH = 64


def _get(obj: dict[str, Any], dotted: str, source: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise RegistryError(f"{source}: missing required field {dotted}")
        cur = cur[part]
    return cur


def _parse_date(value: Any, field: str, source: str) -> dt.date:
    """Registry dates are YYYY-MM-DD or YYYY-MM (month precision: first of month)."""
    if not isinstance(value, str):
        raise RegistryError(f"{source}: {field} must be a date string, got {value!r}")
    try:
        return parse_iso_date(value, month_precision=True)
    except ValueError as exc:
        raise RegistryError(f"{source}: {field} is not an ISO date: {value!r}") from exc


def parse_study(study: dict[str, Any], source: str = "study JSON") -> tuple[Trial, pd.DataFrame]:
    """Return the trial and its locations (registry order) from an API v2 study object."""
    if not isinstance(study, dict):
        raise RegistryError(f"{source}: top level must be a JSON object")
    ident = _get(study, "protocolSection.identificationModule", source)
    status = _get(study, "protocolSection.statusModule", source)
    nct_id = _get(ident, "nctId", source + " protocolSection.identificationModule")
    if not isinstance(nct_id, str) or not NCT_ID_PATTERN.fullmatch(nct_id.strip()):
        # The id names files (registry/<id>.json, snapshots/<id>-<date>.pdf): a path in it
        # would write outside the data dir.
        raise RegistryError(
            f"{source}: identificationModule.nctId must be a ClinicalTrials.gov id "
            "such as NCT04789850 (NCT and 8 digits)"
        )
    title = ident.get("briefTitle") or ident.get("officialTitle")
    if not title:
        raise RegistryError(f"{source}: missing required field identificationModule.briefTitle")
    start = _parse_date(
        _get(status, "startDateStruct.date", source + " statusModule"), "startDateStruct", source
    )
    completion_struct = status.get("primaryCompletionDateStruct") or {}
    completion_raw = (status.get("completionDateStruct") or {}).get(
        "date"
    ) or completion_struct.get("date")
    if completion_raw is None:
        raise RegistryError(f"{source}: missing required field statusModule.completionDateStruct")
    completion = _parse_date(completion_raw, "completionDateStruct", source)
    if completion <= start:
        raise RegistryError(f"{source}: completion date {completion} is not after start {start}")
    target = _get(study, "protocolSection.designModule.enrollmentInfo.count", source)
    if not isinstance(target, int) or isinstance(target, bool) or target < 0:
        raise RegistryError(f"{source}: enrollmentInfo.count must be a whole number ≥ 0")
    last_updated_raw = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    sponsor = (
        study["protocolSection"].get("sponsorCollaboratorsModule", {}).get("leadSponsor", {})
    ).get("name") or (ident.get("organization") or {}).get("fullName", "")

    locations = _get(study, "protocolSection.contactsLocationsModule.locations", source)
    if not isinstance(locations, list) or not locations:
        raise RegistryError(f"{source}: contactsLocationsModule.locations must be a non-empty list")
    rows = []
    for number, loc in enumerate(locations, start=1):
        where = f"{source}: locations[{number - 1}]"
        if not isinstance(loc, dict):
            raise RegistryError(f"{where} must be an object")
        for field in ("facility", "city", "country"):
            if not isinstance(loc.get(field), str) or not loc[field].strip():
                raise RegistryError(f"{where}: missing required field {field}")
        loc_status = loc.get("status") or "UNKNOWN"
        if loc_status not in LOCATION_STATUSES:
            raise RegistryError(
                f"{where} ({loc['facility']}): unknown status {loc_status!r}; "
                f"expected one of {', '.join(LOCATION_STATUSES)}"
            )
        geo = loc.get("geoPoint") or {}
        rows.append(
            {
                "facility": loc["facility"],
                "city": loc["city"],
                "country": loc["country"],
                "status": loc_status,
                "state": loc["state"].strip() if isinstance(loc.get("state"), str) else "",
                "registry_lat": geo.get("lat"),
                "registry_lon": geo.get("lon"),
            }
        )
    trial = Trial(
        nct_id=nct_id.strip(),
        title=title,
        acronym=ident.get("acronym"),
        sponsor=sponsor,
        target=target,
        start_date=start,
        planned_completion_date=completion,
        last_updated=_parse_date(last_updated_raw, "lastUpdatePostDateStruct", source)
        if last_updated_raw
        else None,
        overall_status=status.get("overallStatus"),
    )
    return trial, pd.DataFrame(rows)


def read_study_file(path: Path) -> dict[str, Any]:
    """The study JSON of ``path``, refused before parsing when larger than
    :data:`MAX_STUDY_BYTES` and refused when nested deeper than :data:`MAX_STUDY_DEPTH`."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_STUDY_BYTES + 1)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(raw) > MAX_STUDY_BYTES:
        raise RegistryError(
            f"{path}: larger than {MAX_STUDY_BYTES // 1_000_000} MB; a ClinicalTrials.gov "
            "study record is well under 1 MB, refused unread"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    depth = _max_depth(text)
    if depth > MAX_STUDY_DEPTH:
        raise RegistryError(
            f"{path}: JSON nested {depth} levels deep (more than {MAX_STUDY_DEPTH}); refused"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:  # pragma: no cover - _max_depth refuses first
        raise RegistryError(f"{path}: JSON nested too deeply; refused") from exc


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def _max_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings (computed without the recursive parser)."""
    brackets = re.sub(r"[^\[\]{}]", "", _STRINGS.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_registry(path: Path) -> tuple[Trial, pd.DataFrame]:
    return parse_study(read_study_file(path), source=str(path))
