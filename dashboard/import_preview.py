"""What an uploaded export would change, in counts only, before anyone confirms it.

The Data page shows the editor the effect of an export before it replaces the trial's
enrollment: screened / screen failures / randomized now and after, per-site changes, the
sites that would start enrolling, and the notices ``import-enrollment`` prints. Only
these aggregates are kept with the held upload and sent to the browser; the patient rows
stay on the server (blinding, and no patient code in any reply).

Counts use :func:`dashboard.metrics.counts`, the rule of ``summary`` and the dashboard:
"now" at the data in service's cut-off, "after" at the export's cut-off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from .enrollment import parse_canonical_csv
from .metrics import Counts, counts


@dataclass(frozen=True)
class SiteChange:
    site_id: str
    facility: str
    screened_before: int
    screened_after: int
    randomized_before: int
    randomized_after: int


@dataclass(frozen=True)
class ImportPreview:
    """An import's effect: totals before → after, changed sites, new sites, notices."""

    file: str
    sha256: str
    rows: int
    cutoff_before: str | None
    cutoff_after: str
    before: dict[str, int]
    after: dict[str, int]
    sites_changed: tuple[SiteChange, ...]
    new_sites: tuple[str, ...]
    notices: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["sites_changed"] = [asdict(s) for s in self.sites_changed]
        out["new_sites"] = list(self.new_sites)
        out["notices"] = list(self.notices)
        out["warnings"] = list(self.warnings)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportPreview:
        return cls(
            **{
                **data,
                "sites_changed": tuple(SiteChange(**s) for s in data.get("sites_changed", ())),
                "new_sites": tuple(data.get("new_sites", ())),
                "notices": tuple(data.get("notices", ())),
                "warnings": tuple(data.get("warnings", ())),
            }
        )


def _as_dict(c: Counts) -> dict[str, int]:
    return {"screened": c.screened, "screen_failed": c.screen_failed, "randomized": c.randomized}


def _per_site(enrollment: pd.DataFrame, as_of: dt.date | None) -> pd.DataFrame:
    if as_of is None or not len(enrollment):
        return pd.DataFrame(columns=["screened", "randomized"], dtype=int)
    cut = pd.Timestamp(as_of)
    screened = enrollment[enrollment["screening_date"] <= cut].groupby("site_id").size()
    randomized = enrollment[enrollment["randomization_date"] <= cut].groupby("site_id").size()
    return pd.DataFrame({"screened": screened, "randomized": randomized}).fillna(0).astype(int)


def build_preview(
    report: dict[str, Any],
    current: pd.DataFrame,
    current_cutoff: dt.date | None,
    sites: pd.DataFrame,
) -> ImportPreview:
    """The preview of a dry-run ``report`` (:func:`dashboard.imports.import_enrollment`
    with ``dry_run=True``) against the enrollment in service ``current``."""
    new = parse_canonical_csv(report["csv_text"], report["file"])
    new_cutoff = dt.date.fromisoformat(report["data_cutoff"])
    before = counts(current, current_cutoff) if current_cutoff is not None else Counts(0, 0, 0)
    after = counts(new, new_cutoff)
    old_sites, new_sites = _per_site(current, current_cutoff), _per_site(new, new_cutoff)
    table = old_sites.add_suffix("_before").join(new_sites.add_suffix("_after"), how="outer")
    table = table.fillna(0).astype(int)
    facility = dict(zip(sites["site_id"], sites["facility"], strict=True))
    changed = []
    starting = []
    for site_id, row in table.sort_index().iterrows():
        sid = str(site_id)
        if (row["screened_before"], row["randomized_before"]) != (
            row["screened_after"],
            row["randomized_after"],
        ):
            changed.append(
                SiteChange(
                    site_id=sid,
                    facility=str(facility.get(sid, "")),
                    screened_before=int(row["screened_before"]),
                    screened_after=int(row["screened_after"]),
                    randomized_before=int(row["randomized_before"]),
                    randomized_after=int(row["randomized_after"]),
                )
            )
        if row["screened_before"] == 0 and row["screened_after"] > 0:
            starting.append(sid)
    warnings = []
    if current_cutoff is not None and new_cutoff < current_cutoff:
        warnings.append(
            f"this export's cut-off ({new_cutoff}) is earlier than the data in service "
            f"({current_cutoff}): an older export would replace a newer one"
        )
    if after.randomized < before.randomized:
        warnings.append(
            f"fewer randomized patients than now ({after.randomized} vs {before.randomized}): "
            "is this the whole trial's export?"
        )
    lost = [s.site_id for s in changed if s.screened_after < s.screened_before]
    if lost:
        warnings.append("fewer patients screened than now at site(s) " + ", ".join(lost))
    return ImportPreview(
        file=str(report["file"]),
        sha256=str(report["sha256"]),
        rows=int(report["rows"]),
        cutoff_before=current_cutoff.isoformat() if current_cutoff is not None else None,
        cutoff_after=new_cutoff.isoformat(),
        before=_as_dict(before),
        after=_as_dict(after),
        sites_changed=tuple(changed),
        new_sites=tuple(starting),
        notices=tuple(report.get("notices", ())),
        warnings=tuple(warnings),
    )
