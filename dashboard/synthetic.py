"""The demo's synthetic activation dates, kept apart from the ones a user types.

``sites.csv`` holds what the user typed (activation dates, targets) and nothing else: the
demo never writes it. The demo's made-up activation dates live in their own file,
``synthetic-activation.csv`` (site_id, activation_date), which only the demo writes. While
the data set is synthetic, a site without a typed date takes the synthetic one; a typed
date always wins. A real import deletes the synthetic file (and logs it), never a user's
value, so the first real import leaves every typed date and target byte-identical.
"""

from __future__ import annotations

import io

import pandas as pd

from .datadir import DataPaths

SYNTHETIC_COLUMNS = ["site_id", "activation_date"]


def synthetic_activation_to_csv(dates: pd.DataFrame) -> str:
    """site_id, activation_date (ISO) for the sites the demo gave a made-up date."""
    out = dates[SYNTHETIC_COLUMNS].copy()
    out = out[out["activation_date"].notna()]
    out["activation_date"] = [pd.Timestamp(v).date().isoformat() for v in out["activation_date"]]
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def read_synthetic_activation(paths: DataPaths) -> pd.DataFrame | None:
    """The demo's activation dates, or None when the data dir has none.

    Read strictly (ISO dates, string ids): a malformed file raises ``ValueError``, which
    the store reports like any other broken data file.
    """
    path = paths.synthetic_activation
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in SYNTHETIC_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    raw = frame["activation_date"].str.strip()
    dates = pd.to_datetime(raw.where(raw != ""), format="%Y-%m-%d", errors="coerce")
    bad = (raw != "") & dates.isna()
    if bad.any():
        line = int(frame.index[bad][0]) + 2
        raise ValueError(f"{path.name}: line {line}, column activation_date is not YYYY-MM-DD")
    return pd.DataFrame(
        {"site_id": frame["site_id"].astype(str), "activation_date": dates.astype("datetime64[ns]")}
    )


def with_synthetic_activation(sites: pd.DataFrame, synthetic: pd.DataFrame | None) -> pd.DataFrame:
    """``sites`` where each site without a typed activation date takes the demo's date.

    A typed date (from ``sites.csv``) is never replaced.
    """
    if synthetic is None or not len(synthetic):
        return sites
    by_site = synthetic.drop_duplicates("site_id").set_index("site_id")["activation_date"]
    out = sites.copy()
    fill = out["site_id"].map(by_site)
    out["activation_date"] = out["activation_date"].fillna(fill).astype("datetime64[ns]")
    return out


__all__ = [
    "SYNTHETIC_COLUMNS",
    "read_synthetic_activation",
    "synthetic_activation_to_csv",
    "with_synthetic_activation",
]
