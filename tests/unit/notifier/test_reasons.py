from __future__ import annotations

import datetime as dt
import string
from typing import Any

import pytest

from services.matcher.domain.constraints import IN_PERSON, REMOTE
from services.matcher.domain.ranking import build_reasons
from services.notifier.domain import phrases
from services.notifier.domain.messages import LOCALES, describe_reason
from shared.vocabulary import CONSTRAINT_CODES, FIT_CODES, LEVELS, UNMATCHED_CODES, URGENCIES

GENERIC = {locale: phrases.REASONS[locale]["unknown"] + "." for locale in LOCALES}


def _fields(template: str) -> set[str]:
    return {name.lower() for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_phrase_exists_in_every_locale_with_the_same_placeholders() -> None:
    english = phrases.REASONS["en"]
    for locale in LOCALES:
        table = phrases.REASONS[locale]
        assert set(table) == set(english), locale
        for key, template in table.items():
            assert _fields(template) == _fields(english[key]), (locale, key)
            if locale != "en" and key != "remote":
                assert template != english[key], (locale, key)


def test_every_small_table_covers_every_locale() -> None:
    for locale in LOCALES:
        assert "other" in phrases.PEOPLE[locale]
        assert phrases.KILOMETRE[locale]


@pytest.mark.parametrize("locale", LOCALES)
def test_tables_keyed_by_code_have_exactly_the_vocabulary_s_codes(locale: str) -> None:
    assert set(phrases.LEVEL_NAMES) == set(LOCALES)
    assert set(phrases.URGENCY_NAMES) == set(LOCALES)
    assert set(phrases.REASONS) == set(LOCALES)
    assert set(phrases.LEVEL_NAMES[locale]) == set(LEVELS)
    assert set(phrases.URGENCY_NAMES[locale]) == set(URGENCIES)
    # A reason's key is its code, or ``code.variant``; "unknown" is for codes not (yet) known.
    reason_codes = {key.split(".")[0] for key in phrases.REASONS[locale]} - {"unknown"}
    assert reason_codes == set(FIT_CODES) | set(UNMATCHED_CODES)
    # One wording for each level a shared language is spoken at, one for none given.
    shared_language = {
        key.split(".", 1)[1]
        for key in phrases.REASONS[locale]
        if key.startswith("shared_language.")
    }
    assert shared_language == {*LEVELS, "any", "none"}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reason_code_of_the_vocabulary_has_its_own_words(locale: str) -> None:
    for code in (*FIT_CODES, *UNMATCHED_CODES):
        assert describe_reason({"code": code}, locale) != GENERIC[locale], code


def _matcher_reasons(mode: int) -> list[dict[str, Any]]:
    """Reasons exactly as the matcher builds them for a proposal."""
    start = int(dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC).timestamp())  # a Tuesday
    return build_reasons(
        language="uk",
        level="conversational",
        locale_bonus_language="ru",
        skills=frozenset({"paperwork", "translation"}),
        mode=mode,
        distance_km=3.2449,
        slot=(start, start + 2 * 3600),
        timezone="Europe/Warsaw",
        active=1,
        capacity=3,
    )


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("mode", [IN_PERSON, REMOTE])
def test_every_reason_the_matcher_builds_has_its_own_words(locale: str, mode: int) -> None:
    reasons = _matcher_reasons(mode)
    sentences = [describe_reason(reason, locale) for reason in reasons]
    assert GENERIC[locale] not in sentences
    assert len(set(sentences)) == len(sentences)
    assert all(sentence.endswith(".") and "{" not in sentence for sentence in sentences)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_unmatched_code_the_matcher_emits_has_its_own_words(locale: str) -> None:
    codes = ["no_volunteers", *CONSTRAINT_CODES, "paused_or_excluded"]
    for code in codes:
        assert describe_reason({"code": code, "count": 3}, locale) != GENERIC[locale], code


def test_english_sentences() -> None:
    reasons = {r["code"]: r for r in _matcher_reasons(IN_PERSON)}
    assert describe_reason(reasons["shared_language"], "en") == (
        "You speak Ukrainian (conversational)."
    )
    assert describe_reason(
        {"code": "shared_language", "language": "uk", "level": "native"}, "en"
    ) == ("You speak Ukrainian (native).")
    basic = describe_reason({"code": "shared_language", "language": "pl", "level": "basic"}, "en")
    assert basic == "You speak Polish, though only at a basic level."
    assert describe_reason(reasons["speaks_locale"], "en") == (
        "You also speak Russian, the person's own language."
    )
    assert describe_reason(reasons["skills"], "en") == (
        "You can help with what is needed: Forms and paperwork, Translation and interpreting."
    )
    assert describe_reason(reasons["distance"], "en") == (
        "You live about 3.2 km from where help is needed."
    )
    # 09:00 UTC is 10:00 in Warsaw; the matcher gives the request's local time.
    assert describe_reason(reasons["available"], "en") == (
        "You are both free on Tuesday 2 Mar, 10:00–12:00."
    )
    assert describe_reason(reasons["load"], "en") == "You still have room: 1 of 3 places taken."
    assert describe_reason({"code": "load", "active": 0, "capacity": 2}, "en") == (
        "You are not helping with any other request at the moment."
    )
    assert describe_reason({"code": "remote"}, "en") == "You can help remotely, by phone or online."


@pytest.mark.parametrize(
    ("locale", "weekday", "clock"),
    [
        ("en", "Tuesday", "10:00"),
        ("pl", "wtorek", "10:00"),
        ("uk", "вівторок", "10:00"),
        ("ru", "вторник", "10:00"),
        ("fi", "tiistai", "10.00"),
        ("pt", "terça-feira", "10:00"),
        ("sl", "torek", "10:00"),
    ],
)
def test_weekdays_and_clock_times_are_the_locale_s(locale: str, weekday: str, clock: str) -> None:
    reason = {"code": "available", "day": "tue", "start": "10:00", "end": "12:30"}
    sentence = describe_reason(reason, locale)
    assert weekday in sentence
    assert clock in sentence


def test_language_names_distances_and_levels_are_in_the_locale() -> None:
    native_uk = {"code": "shared_language", "language": "uk", "level": "native"}
    assert describe_reason(native_uk, "uk") == "Українська — ваша рідна мова."
    assert describe_reason(native_uk, "ru") == "Украинский — ваш родной язык."
    assert describe_reason(native_uk, "pl") == "Język ukraiński to Twój język ojczysty."
    assert describe_reason(native_uk, "fi") == "Ukraina on äidinkielesi."
    assert describe_reason(native_uk, "pt") == "O ucraniano é a sua língua materna."
    assert describe_reason(native_uk, "sl") == "Ukrajinščina je vaš materni jezik."
    assert "3,2 км" in describe_reason({"code": "distance", "km": 3.24}, "uk")
    assert "3,2 km" in describe_reason({"code": "distance", "km": 3.24}, "pl")
    assert "podstawowym" in describe_reason({**native_uk, "level": "basic"}, "pl")


def test_the_design_document_name_for_the_locale_reason_reads_the_same() -> None:
    for locale in LOCALES:
        assert describe_reason({"code": "locale_language", "language": "uk"}, locale) == (
            describe_reason({"code": "speaks_locale", "language": "uk"}, locale)
        )


@pytest.mark.parametrize(
    ("locale", "count", "people"),
    [
        ("en", 1, "(1 person)"),
        ("en", 12, "(12 people)"),
        ("pl", 1, "(1 osoba)"),
        ("pl", 3, "(3 osoby)"),
        ("pl", 12, "(12 osób)"),
        ("pl", 22, "(22 osoby)"),
        ("uk", 21, "(21 особа)"),
        ("uk", 5, "(5 осіб)"),
        ("ru", 2, "(2 человека)"),
        ("ru", 11, "(11 человек)"),
        ("fi", 4, "(4 henkilöä)"),
        ("pt", 4, "(4 pessoas)"),
        ("sl", 2, "(2 osebi)"),
        ("sl", 3, "(3 osebe)"),
        ("sl", 5, "(5 oseb)"),
    ],
)
def test_unmatched_counts_use_the_locale_s_plural(locale: str, count: int, people: str) -> None:
    sentence = describe_reason({"code": "no_time_overlap", "count": count}, locale)
    assert sentence.endswith(f" {people}.")


def test_unmatched_reasons_name_languages_and_skills() -> None:
    language = {"code": "no_shared_language", "count": 4, "languages": ["uk", "ka"]}
    assert describe_reason(language, "en") == (
        "Volunteers do not speak Ukrainian or Georgian (4 people)."
    )
    assert "ukraiński lub gruziński" in describe_reason(language, "pl")
    skill = {"code": "missing_skill", "count": 1, "skills": ["legal_aid"]}
    assert describe_reason(skill, "en") == (
        "Volunteers do not offer the help needed: Legal aid (1 person)."
    )
    assert "Юридична допомога" in describe_reason(skill, "uk")
    assert describe_reason({"code": "no_volunteers", "count": 0}, "en") == (
        "No volunteers have registered yet."
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_unknown_codes_render_a_general_sentence(locale: str) -> None:
    assert describe_reason({"code": "moon_phase", "phase": "full"}, locale) == GENERIC[locale]
    assert describe_reason({}, locale) == GENERIC[locale]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "reason",
    [
        {"code": "shared_language"},
        {"code": "shared_language", "language": "uk", "level": "expert"},
        {"code": "shared_language", "language": "xx", "level": None},
        {"code": "speaks_locale"},
        {"code": "skills"},
        {"code": "skills", "skills": None},
        {"code": "skills", "skills": "paperwork"},
        {"code": "skills", "skills": ["first_aid"]},
        {"code": "distance"},
        {"code": "distance", "km": "far"},
        {"code": "distance", "km": True},
        {"code": "available"},
        {"code": "available", "day": "someday"},
        {"code": "available", "day": "sun"},
        {"code": "available", "day": "wed", "date": "not a date", "start": "25:99", "end": 7},
        {"code": "load", "active": "one", "capacity": 3},
        {"code": "load", "active": 1, "capacity": 0},
        {"code": "no_shared_language", "languages": None, "count": "many"},
        {"code": "missing_skill", "skills": 5, "count": -1},
        {"code": 42},
    ],
)
def test_missing_or_odd_parameters_never_fail(locale: str, reason: dict[str, Any]) -> None:
    sentence = describe_reason(reason, locale)
    assert sentence.endswith(".")
    assert "{" not in sentence and "None" not in sentence


def test_reasons_fall_back_like_messages() -> None:
    reason = {"code": "remote"}
    assert describe_reason(reason, "pt-BR") == describe_reason(reason, "pt")
    assert describe_reason(reason, "ka") == describe_reason(reason, "en")
