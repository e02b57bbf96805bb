"""What a new user must do before ``serve`` can show anything, in the order to do it.

``serve`` checks the data dir first: a missing directory is a typo (said so, with the
path), and an empty or half-made one gets the next commands to run rather than an error
page. The same steps are README's "Your own trial data, first day".
"""

from __future__ import annotations

from pathlib import Path

from .datadir import DataPaths


def next_steps(root: Path) -> list[str]:
    """The commands still to run for a servable data dir; [] when it has what it needs."""
    paths = DataPaths(root)
    arg = f"--data-dir {root}"
    has_registry = paths.registry_dir.is_dir() and any(paths.registry_dir.glob("*.json"))
    steps: list[str] = []
    if not has_registry or not paths.sites.exists():
        steps.append(
            f"recruitment-dashboard registry import NCTxxxxxxxx.json {arg}   "
            "# the ClinicalTrials.gov record (API v2 study JSON): trial dates, target, sites"
        )
    if not paths.geocodes.exists():
        steps.append(
            f"recruitment-dashboard geocode --offline {arg}   "
            "# a map point per site (or without --offline: a Nominatim server)"
        )
    if steps:
        steps.append(
            f"(optional) type activation dates and site targets into {paths.sites.name}; "
            "then: recruitment-dashboard import-enrollment EXPORT.csv --cutoff YYYY-MM-DD "
            f"{arg}"
        )
    return steps


def serve_refusal(root: Path) -> str | None:
    """Why ``serve`` cannot start on ``root`` (with what to do), or None when it can."""
    if not root.exists():
        return (
            f"No data directory at {root}. Check the --data-dir path (or "
            "$RECRUITMENT_DASHBOARD_DATA_DIR); to start a new one, create it and run "
            "`recruitment-dashboard registry import STUDY.json --data-dir DIR`."
        )
    if not root.is_dir():
        return f"{root} is not a directory; --data-dir takes the data directory."
    steps = next_steps(root)
    if steps:
        return f"The data directory {root} is not ready to serve yet. First steps:\n" + "\n".join(
            f"  {i}. {step}" for i, step in enumerate(steps, 1)
        )
    return None


__all__ = ["next_steps", "serve_refusal"]
