"""Geocode step: gazetteer, Nominatim through geopy's real HTTP path, cache, sanity rule.

Online tests talk to :mod:`tests.nominatim_server`, a Nominatim stand-in on 127.0.0.1,
so every request really goes through geopy, urllib and a socket; nothing of the project
is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import __version__
from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths
from dashboard.geocode import (
    GEOCODE_COLUMNS,
    MAX_CONSECUTIVE_FAILURES,
    GeocodeError,
    haversine_km,
    load_geocodes,
    parse_geocodes_csv,
    run_geocode,
)
from dashboard.geocode.gazetteer import country_code, lookup_city, normalise_place_name
from dashboard.sites import SITE_COLUMNS
from tests.nominatim_server import FakeNominatim, Reply, refused_url, serve

# --------------------------------------------------------------------------- fixtures
#: A small trial: one site Nominatim knows, two with misleading names, one plain CHU.
SMALL_SITES = [
    ("01", "CHU Angers", "Angers"),
    ("02", "Robert Debré Hospital", "Reims"),
    ("03", "Hôpitaux de Barbois", "Vandœuvre-lès-Nancy"),
    ("04", "CHU Saint Etienne", "Saint-Etienne"),
]
QUERIES = {sid: f"{facility}, {city}, France" for sid, facility, city in SMALL_SITES}

ANGERS_CHU = (47.4807, -0.5536)
REIMS_ROBERT_DEBRE = (49.2405, 4.0069)
PARIS_ROBERT_DEBRE = (48.8794, 2.4023)  # the famous namesake, 130 km from Reims
BRABOIS = (48.6493, 6.1444)
SAINT_ETIENNE_NORD = (45.4694, 4.3797)
SAINT_ETIENNE_CITY = (45.43389, 4.39)
VANDOEUVRE_CITY = (48.66115, 6.17114)
ANGERS_CITY = (47.47156, -0.55202)
REIMS_CITY = (49.26526, 4.02853)


def good_server() -> FakeNominatim:
    """Answers every site of SMALL_SITES with its real hospital."""
    return FakeNominatim(
        replies={
            QUERIES["01"]: Reply.point(*ANGERS_CHU, "CHU d'Angers"),
            QUERIES["02"]: Reply.point(*REIMS_ROBERT_DEBRE, "Hôpital Robert Debré, Reims"),
            QUERIES["03"]: Reply.point(*BRABOIS, "Hôpitaux de Brabois"),
            QUERIES["04"]: Reply.point(*SAINT_ETIENNE_NORD, "Hôpital Nord"),
        }
    )


def write_sites(paths: DataPaths, sites: list[tuple[str, str, str]]) -> None:
    with open(paths.sites, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SITE_COLUMNS)
        for sid, facility, city in sites:
            writer.writerow([sid, facility, city, "France", "RECRUITING", "", ""])


@pytest.fixture
def small(data_dir: Path) -> DataPaths:
    """A copy of the shipped data dir cut down to four sites and no geocodes yet."""
    paths = DataPaths(data_dir)
    write_sites(paths, SMALL_SITES)
    paths.geocodes.unlink()
    return paths


class Run:
    """One geocode run's summary, warnings and resulting rows (by site id)."""

    def __init__(self, paths: DataPaths, url: str, **options: object):
        self.warnings: list[str] = []
        kwargs: dict = {
            "offline": False,
            "refresh": False,
            "nominatim_url": url,
            "min_delay": 0.0,
            "timeout": 2.0,
        }
        kwargs.update(options)
        started = time.monotonic()
        self.summary = run_geocode(paths, echo=self.warnings.append, **kwargs)
        self.elapsed = time.monotonic() - started
        frame = load_geocodes(paths)
        self.rows = {r["site_id"]: r for r in frame.to_dict(orient="records")}

    @property
    def warning_text(self) -> str:
        return "\n".join(self.warnings)


def near(row: dict, point: tuple[float, float], km: float = 0.5) -> bool:
    return haversine_km(row["lat"], row["lon"], *point) <= km


def assert_all_sites_have_points(run: Run) -> None:
    assert sorted(run.rows) == [sid for sid, _, _ in SMALL_SITES]
    for row in run.rows.values():
        assert row["lat"] == row["lat"] and row["lon"] == row["lon"]  # not NaN


# --------------------------------------------------------------------------- gazetteer
@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Saint-Etienne", SAINT_ETIENNE_CITY),
        ("Saint-Étienne", SAINT_ETIENNE_CITY),
        ("St Etienne", SAINT_ETIENNE_CITY),
        ("St-Etienne", SAINT_ETIENNE_CITY),
        ("ST. ÉTIENNE", SAINT_ETIENNE_CITY),
        ("saint etienne", SAINT_ETIENNE_CITY),
        ("Vandœuvre-lès-Nancy", VANDOEUVRE_CITY),
        ("Vandoeuvre-les-Nancy", VANDOEUVRE_CITY),
        ("VANDOEUVRE LES NANCY", VANDOEUVRE_CITY),
        ("Boulogne-Billancourt", (48.83545, 2.24128)),
        ("boulogne billancourt", (48.83545, 2.24128)),
        ("Clermont-Ferrand", (45.77969, 3.08682)),
        ("Clermont Ferrand", (45.77969, 3.08682)),
        ("Besançon", (47.24878, 6.01815)),
        ("Besancon", (47.24878, 6.01815)),
        ("Créteil", (48.79266, 2.46569)),
        ("Creteil", (48.79266, 2.46569)),
        ("Paris Cedex 13", (48.85341, 2.3488)),
    ],
)
def test_gazetteer_resolves_spellings_to_the_right_town(city: str, expected: tuple) -> None:
    place = lookup_city(city, "France")
    assert place is not None, city
    assert place.country_code == "FR"
    assert haversine_km(place.lat, place.lon, *expected) < 1.0, (city, place)


def test_gazetteer_matches_whole_names_not_names_containing_the_city() -> None:
    """Saint-Etienne is Saint-Étienne (Loire), not Saint-Étienne-du-Rouvray near Rouen."""
    place = lookup_city("Saint-Etienne")
    assert place is not None
    assert place.name == "Saint-Étienne"
    assert place.lat == pytest.approx(45.434, abs=0.01)
    assert place.lon == pytest.approx(4.390, abs=0.01)
    rouvray = lookup_city("Saint-Étienne-du-Rouvray")
    assert rouvray is not None and rouvray.name == "Saint-Étienne-du-Rouvray"
    assert haversine_km(place.lat, place.lon, rouvray.lat, rouvray.lon) > 400


def test_gazetteer_prefers_the_most_populous_of_same_named_places() -> None:
    # Several French communes are called Saint-Étienne-du-Bois; the bigger one wins.
    place = lookup_city("Saint-Etienne-du-Bois")
    assert place is not None
    assert place.population == 2257


def test_gazetteer_unknown_city_or_country_is_none() -> None:
    assert lookup_city("Nowhere-sur-Rien") is None
    assert lookup_city("Paris", "Narnia") is None
    assert country_code("France") == "FR"
    assert country_code("FR") == "FR"


def test_normalisation_of_place_names() -> None:
    assert normalise_place_name("Vandœuvre-lès-Nancy") == "vandoeuvre les nancy"
    assert normalise_place_name("St-Étienne") == normalise_place_name("SAINT ETIENNE")
    assert normalise_place_name("Ste-Foy-lès-Lyon") == "sainte foy les lyon"
    assert normalise_place_name("Villeneuve-d'Ascq") == "villeneuve d ascq"


def test_gazetteer_index_is_built_once() -> None:
    from dashboard.geocode import gazetteer

    lookup_city("Lyon")
    before = gazetteer._names.cache_info()
    for city in ("Dijon", "Nantes", "St Etienne"):
        lookup_city(city)
    after = gazetteer._names.cache_info()
    assert after.misses == before.misses
    assert gazetteer._geonames.cache_info().currsize == 1


# --------------------------------------------------------------------------- online
def test_good_answer_gives_a_facility_point(small: DataPaths) -> None:
    with serve(good_server()) as server:
        run = Run(small, server.url)
    assert_all_sites_have_points(run)
    angers = run.rows["01"]
    assert angers["precision"] == "facility"
    assert angers["source"] == "nominatim"
    assert (angers["lat"], angers["lon"]) == pytest.approx(ANGERS_CHU)
    assert angers["query"] == "CHU Angers, Angers, France"
    stamp = dt.datetime.fromisoformat(angers["geocoded_at"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 120
    assert all(r["source"] == "nominatim" for r in run.rows.values())
    assert run.warnings == []
    assert "4 queried (4 accepted" in run.summary


def test_far_away_answer_is_rejected_for_the_city_point(small: DataPaths) -> None:
    """The famous Robert Debré is in Paris; this trial's is in Reims: Paris must not win."""
    fake = good_server()
    fake.replies[QUERIES["02"]] = Reply.point(*PARIS_ROBERT_DEBRE, "Hôpital Robert Debré, Paris")
    with serve(fake) as server:
        run = Run(small, server.url)
    reims = run.rows["02"]
    assert (reims["precision"], reims["source"]) == ("city", "gazetteer")
    assert near(reims, REIMS_CITY)
    assert haversine_km(reims["lat"], reims["lon"], *PARIS_ROBERT_DEBRE) > 100
    assert "site 02" in run.warning_text
    assert "Robert Debré Hospital" in run.warning_text
    assert "rejected" in run.warning_text
    assert run.rows["01"]["precision"] == "facility"


def test_empty_answer_falls_back_to_the_city(small: DataPaths) -> None:
    fake = good_server()
    fake.replies[QUERIES["03"]] = Reply.empty()
    with serve(fake) as server:
        run = Run(small, server.url)
    barbois = run.rows["03"]
    assert (barbois["precision"], barbois["source"]) == ("city", "gazetteer")
    assert near(barbois, VANDOEUVRE_CITY)
    assert haversine_km(barbois["lat"], barbois["lon"], *BRABOIS) < 20
    assert "site 03" in run.warning_text and "found nothing" in run.warning_text


def test_place_answer_is_only_city_precision(small: DataPaths) -> None:
    fake = good_server()
    fake.replies[QUERIES["01"]] = Reply.point(*ANGERS_CITY, "Angers", category="boundary")
    with serve(fake) as server:
        run = Run(small, server.url)
    assert (run.rows["01"]["precision"], run.rows["01"]["source"]) == ("city", "nominatim")


def test_http_429_stops_querying_at_once(small: DataPaths) -> None:
    with serve(FakeNominatim(default=Reply.error(429, retry_after=60))) as server:
        run = Run(small, server.url)
        assert len(server.requests) == 1  # no retry storm against a server asking us to stop
    assert_all_sites_have_points(run)
    assert all(r["source"] == "gazetteer" and r["precision"] == "city" for r in run.rows.values())
    assert "429" in run.warning_text
    assert "site 01" in run.warning_text
    assert "02, 03, 04" in run.warning_text  # the sites that were not asked


def test_http_500_stops_after_consecutive_failures(small: DataPaths) -> None:
    with serve(FakeNominatim(default=Reply.error(500))) as server:
        run = Run(small, server.url)
        assert len(server.requests) == MAX_CONSECUTIVE_FAILURES
    assert_all_sites_have_points(run)
    assert near(run.rows["04"], SAINT_ETIENNE_CITY)
    assert "HTTP 500" in run.warning_text
    for sid in ("01", "02", "03"):
        assert f"site {sid}" in run.warning_text
    assert "stopped querying" in run.warning_text


def test_one_failure_between_good_answers_does_not_stop(small: DataPaths) -> None:
    fake = good_server()
    fake.replies[QUERIES["02"]] = Reply.error(503)
    with serve(fake) as server:
        run = Run(small, server.url)
        assert len(server.requests) == 4
    assert run.rows["02"]["source"] == "gazetteer"
    assert run.rows["03"]["source"] == "nominatim"


def test_malformed_answer_is_a_service_fault(small: DataPaths) -> None:
    fake = good_server()
    fake.replies[QUERIES["01"]] = Reply(
        results=({"lat": "north", "lon": "1", "display_name": "?"},)
    )
    with serve(fake) as server:
        run = Run(small, server.url)
    assert (run.rows["01"]["precision"], run.rows["01"]["source"]) == ("city", "gazetteer")
    assert near(run.rows["01"], ANGERS_CITY)
    assert "site 01" in run.warning_text
    assert run.rows["02"]["source"] == "nominatim"


def test_timeout_is_bounded(small: DataPaths) -> None:
    with serve(FakeNominatim(default=Reply.slow(3.0))) as server:
        run = Run(small, server.url, timeout=0.5)
        assert len(server.requests) == MAX_CONSECUTIVE_FAILURES
    assert run.elapsed < MAX_CONSECUTIVE_FAILURES * 0.5 + 2.0
    assert_all_sites_have_points(run)
    assert all(r["precision"] == "city" for r in run.rows.values())
    assert "no answer within 0.5 s" in run.warning_text
    assert "site 01" in run.warning_text


def test_refused_connection_falls_back(small: DataPaths) -> None:
    run = Run(small, refused_url())
    assert run.elapsed < 5
    assert_all_sites_have_points(run)
    assert all(r["source"] == "gazetteer" for r in run.rows.values())
    assert "site 01" in run.warning_text
    assert "stopped querying" in run.warning_text


def test_cached_rows_are_not_queried_again(small: DataPaths) -> None:
    with serve(good_server()) as server:
        first = Run(small, server.url)
        assert len(server.requests) == 4
        second = Run(small, server.url)
        assert len(server.requests) == 4
    assert second.rows == first.rows
    assert "4 cached" in second.summary


def test_refresh_queries_again(small: DataPaths) -> None:
    with serve(good_server()) as server:
        Run(small, server.url)
        moved = (47.4810, -0.5540)
        server.replies[QUERIES["01"]] = Reply.point(*moved, "CHU d'Angers")
        run = Run(small, server.url, refresh=True)
        assert server.queries[4:] == [QUERIES[sid] for sid in ("01", "02", "03", "04")]
    assert (run.rows["01"]["lat"], run.rows["01"]["lon"]) == pytest.approx(moved)


def test_refresh_that_fails_keeps_the_cached_answer(small: DataPaths) -> None:
    with serve(good_server()) as server:
        first = Run(small, server.url)
    run = Run(small, refused_url(), refresh=True)
    assert run.rows == first.rows
    assert "kept the cached point" in run.warning_text


def test_city_fallback_rows_are_asked_again_when_online(small: DataPaths) -> None:
    """A city point written after a fault is a fallback, not an answer: the next run retries."""
    Run(small, refused_url())
    with serve(good_server()) as server:
        run = Run(small, server.url)
        assert len(server.requests) == 4
    assert all(r["precision"] == "facility" for r in run.rows.values())


def test_changed_facility_name_is_queried_again(small: DataPaths) -> None:
    with serve(good_server()) as server:
        Run(small, server.url)
        renamed = [("01", "CHU d'Angers", "Angers"), *SMALL_SITES[1:]]
        write_sites(small, renamed)
        server.replies["CHU d'Angers, Angers, France"] = Reply.point(*ANGERS_CHU)
        run = Run(small, server.url)
        assert server.queries[4:] == ["CHU d'Angers, Angers, France"]
    assert run.rows["01"]["query"] == "CHU d'Angers, Angers, France"


def test_manual_rows_are_never_overwritten(small: DataPaths) -> None:
    manual = (
        "site_id,lat,lon,precision,source,query,geocoded_at\n"
        '02,49.2405,4.0069,facility,manual,"Robert Debré Hospital, Reims, France",'
        "2025-01-01T00:00:00Z\n"
        '03,48.6493,6.1444,facility,manual,"an older name, Nancy, France",2025-01-01T00:00:00Z\n'
    )
    small.geocodes.write_text(manual, encoding="utf-8")
    before = parse_geocodes_csv(manual, "manual").set_index("site_id")
    fake = good_server()
    fake.default = Reply.point(*PARIS_ROBERT_DEBRE)
    with serve(fake) as server:
        for options in ({}, {"refresh": True}):
            run = Run(small, server.url, **options)
            for sid in ("02", "03"):
                row = run.rows[sid]
                assert row["source"] == "manual"
                assert (row["lat"], row["lon"]) == (before.loc[sid, "lat"], before.loc[sid, "lon"])
                assert row["query"] == before.loc[sid, "query"]
                assert row["geocoded_at"] == "2025-01-01T00:00:00Z"
        assert QUERIES["02"] not in server.queries
        assert QUERIES["03"] not in server.queries
    offline = Run(small, "http://unused.invalid", offline=True, refresh=True)
    assert offline.rows["02"]["source"] == "manual"
    # A manual row made for another facility name is kept, with a warning to check it.
    assert "site 03" in run.warning_text and "an older name" in run.warning_text


def test_min_delay_spaces_requests(small: DataPaths) -> None:
    # The server stamps a request when its thread gets to it: on a loaded machine a stamp
    # can be tens of ms late, shortening the next gap. The delay is large enough (and the
    # slack 20 %) that only a throttle that does not wait can fail this.
    min_delay = 0.5
    with serve(good_server()) as server:
        Run(small, server.url, min_delay=min_delay)
        times = [r.time for r in server.requests]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= min_delay * 0.8, gaps
    assert times[-1] - times[0] >= 3 * min_delay * 0.9, gaps


def test_requests_identify_the_dashboard(small: DataPaths) -> None:
    with serve(good_server()) as server:
        Run(small, server.url)
        requests = list(server.requests)
    assert {r.user_agent for r in requests} == {f"recruitment-dashboard/{__version__}"}
    assert all(r.path == "/search" for r in requests)
    assert all(r.params.get("countrycodes") == "fr" for r in requests)
    assert all(r.params.get("format") in ("json", "jsonv2") for r in requests)
    assert [r.query for r in requests] == [QUERIES[sid] for sid in ("01", "02", "03", "04")]


def test_city_missing_from_gazetteer_is_checked_against_nominatim(small: DataPaths) -> None:
    write_sites(small, [("01", "Hôpital Test", "Trifouilly-les-Oies")])
    fake = FakeNominatim(
        replies={
            "Hôpital Test, Trifouilly-les-Oies, France": Reply.point(45.0, 1.0),
            "Trifouilly-les-Oies, France": Reply.point(45.01, 1.01, category="place"),
        }
    )
    with serve(fake) as server:
        run = Run(small, server.url)
    assert (run.rows["01"]["precision"], run.rows["01"]["source"]) == ("facility", "nominatim")
    # Without any point for the city the answer cannot be checked: nothing reaches the map.
    small.geocodes.unlink()
    with serve(FakeNominatim(default=Reply.point(45.0, 1.0))) as server:
        server.replies["Trifouilly-les-Oies, France"] = Reply.empty()
        run = Run(small, server.url)
    assert "01" not in run.rows
    assert "site 01" in run.warning_text and "manual row" in run.warning_text


# --------------------------------------------------------------------------- offline
def test_offline_gives_gazetteer_city_points(small: DataPaths) -> None:
    run = Run(small, "http://unused.invalid", offline=True)
    assert_all_sites_have_points(run)
    assert all((r["precision"], r["source"]) == ("city", "gazetteer") for r in run.rows.values())
    assert near(run.rows["04"], SAINT_ETIENNE_CITY)
    assert near(run.rows["03"], VANDOEUVRE_CITY)
    assert "offline" in run.summary


def test_offline_keeps_nominatim_answers(small: DataPaths) -> None:
    with serve(good_server()) as server:
        first = Run(small, server.url)
    run = Run(small, "http://unused.invalid", offline=True, refresh=True)
    assert run.rows == first.rows


# --------------------------------------------------------------------------- CLI
def test_cli_geocode_against_a_local_server(small: DataPaths) -> None:
    fake = good_server()
    fake.replies[QUERIES["02"]] = Reply.point(*PARIS_ROBERT_DEBRE, "Hôpital Robert Debré, Paris")
    with serve(fake) as server:
        args = ["geocode", "--data-dir", str(small.root), "--nominatim-url", server.url]
        result = CliRunner().invoke(main, [*args, "--min-delay", "0.05"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("geocodes.csv: 4 site(s)")
    assert "site 02" in result.stderr and "rejected" in result.stderr
    with open(small.geocodes, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == GEOCODE_COLUMNS
    assert [r["site_id"] for r in rows] == ["01", "02", "03", "04"]
    assert rows[1]["source"] == "gazetteer"
    assert not list(small.root.glob("*.tmp")) and not list(small.root.glob(".geocodes.csv.*"))


def test_cli_offline_on_the_full_trial_then_validate(data_dir: Path) -> None:
    (data_dir / "geocodes.csv").unlink()
    runner = CliRunner()
    result = runner.invoke(main, ["geocode", "--data-dir", str(data_dir), "--offline"])
    assert result.exit_code == 0, result.output
    assert "46 site(s)" in result.stdout
    rows = load_geocodes(DataPaths(data_dir))
    assert len(rows) == 46 and set(rows["source"]) == {"gazetteer"}
    checked = runner.invoke(main, ["validate", "--data-dir", str(data_dir)])
    assert checked.exit_code == 0, checked.output
    assert "sound" in checked.output


def test_cli_rejects_a_bad_url(small: DataPaths) -> None:
    result = CliRunner().invoke(
        main, ["geocode", "--data-dir", str(small.root), "--nominatim-url", "localhost:8080"]
    )
    assert result.exit_code == 1
    assert "Geocoding refused" in result.output and "localhost:8080" in result.output
    assert not small.geocodes.exists()


# --------------------------------------------------------------------------- the file
def test_parse_refuses_bad_rows_naming_line_and_column() -> None:
    text = (
        "site_id,lat,lon,precision,source,query,geocoded_at\n"
        "01,48.1,abc,facility,manual,q,2025-01-01T00:00:00Z\n"
        "02,48.1,2.3,street,guess,q,2025-01-01T00:00:00Z\n"
        "02,148.1,2.3,city,gazetteer,q,2025-01-01T00:00:00Z\n"
    )
    with pytest.raises(GeocodeError) as info:
        parse_geocodes_csv(text, "geocodes.csv")
    message = str(info.value)
    assert "line 2, column lon" in message
    assert "line 3, column precision" in message and "line 3, column source" in message
    assert "line 4, column lat" in message
    assert "duplicate site_id 02" in message


def test_parse_keeps_ids_as_strings_and_blank_points_for_validate() -> None:
    text = (
        "site_id,lat,lon,precision,source,query,geocoded_at\n"
        "01,,,city,manual,,\n"
        "02,48.5,2.5,City,Manual,q,2025-01-01T00:00:00Z\n"
    )
    frame = parse_geocodes_csv(text, "geocodes.csv")
    assert list(frame["site_id"]) == ["01", "02"]
    assert frame["lat"].isna().tolist() == [True, False]
    assert list(frame["source"]) == ["manual", "manual"]


# --------------------------------------------------------------------------- shipped data
#: Hand-checked hospital locations of the sites whose registry name misleads geocoders.
MISLEADING_SITES = {
    "46": ("Hôpitaux de Brabois, Vandœuvre-lès-Nancy", (48.65, 6.14)),
    "38": ("Hôpital Robert Debré, Reims (not Paris 19e)", (49.24, 4.01)),
    "24": ("Hôpital Robert Schuman, Metz-Vantoux", (49.13, 6.22)),
    "21": ("Hôpital Nord, Marseille", (43.38, 5.36)),
    "22": ("La Timone, Marseille", (43.29, 5.40)),
    "29": ("Hôpital de l'Archet, Nice", (43.70, 7.23)),
    "30": ("Hôpital Pasteur, Nice", (43.72, 7.28)),
    "20": ("Centre Hospitalier Lyon Sud, Pierre-Bénite", (45.70, 4.82)),
}


def shipped() -> tuple[list[dict], dict[str, dict]]:
    with open(SHIPPED_DATA_DIR / "sites.csv", encoding="utf-8") as handle:
        sites = list(csv.DictReader(handle))
    with open(SHIPPED_DATA_DIR / "geocodes.csv", encoding="utf-8") as handle:
        geocodes = {r["site_id"]: r for r in csv.DictReader(handle)}
    return sites, geocodes


def test_shipped_geocodes_cover_every_site_as_checked_manual_points() -> None:
    sites, geocodes = shipped()
    assert len(sites) == 46
    assert sorted(geocodes) == sorted(s["site_id"] for s in sites)
    for site in sites:
        row = geocodes[site["site_id"]]
        assert (row["precision"], row["source"]) == ("facility", "manual")
        assert row["query"] == f"{site['facility']}, {site['city']}, {site['country']}"
        dt.datetime.fromisoformat(row["geocoded_at"].replace("Z", "+00:00"))
    frame = load_geocodes(DataPaths(SHIPPED_DATA_DIR))
    assert frame["site_id"].tolist()[:3] == ["01", "02", "03"]


def test_shipped_points_are_in_metropolitan_france_near_their_city() -> None:
    sites, geocodes = shipped()
    for site in sites:
        row = geocodes[site["site_id"]]
        lat, lon = float(row["lat"]), float(row["lon"])
        assert 41.3 <= lat <= 51.1 and -5.2 <= lon <= 9.6, site
        city = lookup_city(site["city"], site["country"])
        assert city is not None, site["city"]
        assert haversine_km(lat, lon, city.lat, city.lon) <= 25, site


@pytest.mark.parametrize("site_id", sorted(MISLEADING_SITES))
def test_shipped_points_of_misleading_names_are_the_real_hospitals(site_id: str) -> None:
    _, geocodes = shipped()
    row = geocodes[site_id]
    hospital, expected = MISLEADING_SITES[site_id]
    distance = haversine_km(float(row["lat"]), float(row["lon"]), *expected)
    assert distance <= 20, f"site {site_id} should be {hospital}, is {distance:.0f} km away"
