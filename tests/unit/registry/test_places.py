from __future__ import annotations

import pytest

from services.registry.entrypoints.web import places
from services.registry.entrypoints.web.places import Place, by_id, fold, resolve, suggest


def _first(query: str) -> Place:
    found = suggest(query)
    assert found, query
    return found[0]


def _near(place: Place, lat: float, lon: float, tolerance: float = 0.05) -> bool:
    return abs(place.lat - lat) < tolerance and abs(place.lon - lon) < tolerance


@pytest.mark.parametrize("query", ["plock", "Płock", "PŁOCK", "  płock ", "Плоцьк", "Плоцк"])
def test_plock_is_found_however_it_is_typed(query: str) -> None:
    place = _first(query)
    assert place.name == "Płock"
    assert place.country == "PL"
    assert _near(place, 52.55, 19.70)


def test_seinajoki_without_diacritics() -> None:
    place = _first("seinajoki")
    assert (place.name, place.country) == ("Seinäjoki", "FI")
    assert _near(place, 62.79, 22.84)


@pytest.mark.parametrize(
    ("query", "name", "country"),
    [
        ("Litija", "Litija", "SI"),
        ("litij", "Litija", "SI"),
        ("Fundão", "Fundão", "PT"),
        ("fundao", "Fundão", "PT"),
        ("drogheda", "Drogheda", "IE"),
        ("Dundalk", "Dundalk", "IE"),
        ("Radzanowo", "Radzanowo", "PL"),
        ("smartno pri litiji", "Šmartno pri Litiji", "SI"),
    ],
)
def test_partner_towns_and_their_surroundings(query: str, name: str, country: str) -> None:
    place = _first(query)
    assert (place.name, place.country) == (name, country)


def test_prefix_matches_rank_by_population_after_exact_ones() -> None:
    found = suggest("Nowa")
    assert len(found) == 8
    assert all(fold(p.name).startswith("nowa") for p in found)
    assert [p.population for p in found] == sorted((p.population for p in found), reverse=True)
    exact_first = suggest("Louth")
    assert {p.country for p in exact_first[:2]} == {"GB", "IE"}


def test_limit_is_respected() -> None:
    assert len(suggest("sa", limit=3)) == 3
    assert suggest("sa", limit=0) == []


@pytest.mark.parametrize("query", ["xqzzyv", "qqqqqq", "Płockxyz", "zzzzzz"])
def test_nonsense_gives_nothing(query: str) -> None:
    assert suggest(query) == []
    assert resolve(query) == []


@pytest.mark.parametrize("query", ["", " ", "p", "Ł", "-", "П"])
def test_under_two_letters_gives_nothing(query: str) -> None:
    assert suggest(query) == []
    assert resolve(query) == []


def test_labels_name_the_country_in_the_page_language() -> None:
    plock = _first("plock")
    assert plock.region == ""
    assert plock.label("en") == "Płock, Poland"
    assert plock.label("pl") == "Płock, Polska"
    assert plock.label("uk") == "Płock, Польща"
    assert plock.label("ru") == "Płock, Польша"
    assert plock.label("fi") == "Płock, Puola"
    assert plock.label("sl") == "Płock, Poljska"
    assert plock.label("pt") == "Płock, Polónia"  # European, not Brazilian, Portuguese
    assert places.place_label(plock, "pl") == plock.label("pl")


def test_label_falls_back_to_english_for_an_unknown_locale() -> None:
    assert _first("litija").label("xx-nonsense") == "Litija, Slovenia"


def test_resolve_returns_the_one_place_with_that_name() -> None:
    (place,) = resolve("plock")
    assert place.name == "Płock"
    (place,) = resolve("Seinäjoki")
    assert place.name == "Seinäjoki"


def test_resolve_asks_when_the_name_is_ambiguous() -> None:
    louth = resolve("Louth")
    assert len(louth) >= 2
    assert {p.country for p in louth} >= {"GB", "IE"}
    nowa = resolve("Nowa")
    assert 2 <= len(nowa) <= 8


def test_by_id_round_trips() -> None:
    for query in ("plock", "seinajoki", "fundao", "litija", "drogheda"):
        place = _first(query)
        assert by_id(place.id) == place
    assert by_id(-1) is None


def test_folding() -> None:
    assert fold("Łódź") == "lodz"
    assert fold("Saint-Étienne") == "saint etienne"
    assert fold("  Sankt   Pölten ") == "sankt polten"
    assert fold("Київ") == "киів"
    assert fold("Straße") == "strasse"
