"""The pages' label tables and choices follow the shared vocabulary, so they cannot drift."""

from __future__ import annotations

from services.registry import domain
from services.registry.entrypoints.web import desk, forms, i18n
from shared.vocabulary import (
    CHANNELS,
    DAYS,
    FIT_CODES,
    LEVELS,
    MATCH_STATUSES,
    REQUEST_STATUSES,
    UNMATCHED_CODES,
    URGENCIES,
)

# A reason the pages word with the names of languages or skills, not from the table.
WORDED_WITH_PARAMETERS = {"no_shared_language", "missing_skill"}
EVERY_PARAMETER = {
    "language": "uk",
    "level": "native",
    "languages": ["ka"],
    "skills": ["paperwork"],
    "km": 3.2,
    "day": "tue",
    "start": "17:00",
    "end": "19:00",
    "active": 1,
    "capacity": 2,
}


def test_the_label_tables_name_each_word_of_the_vocabulary() -> None:
    assert set(i18n.LEVELS) == set(LEVELS)
    assert set(i18n.URGENCIES) == set(URGENCIES)
    assert set(i18n.STATUSES) == set(REQUEST_STATUSES) | set(MATCH_STATUSES)
    assert set(i18n.CHANNELS) == set(CHANNELS)
    assert set(i18n.UNMATCHED) | WORDED_WITH_PARAMETERS == set(UNMATCHED_CODES)


def test_every_reason_code_reads_as_a_sentence_of_its_own() -> None:
    words = i18n.words("en")
    fallback = words._("Another reason was taken into account.")
    for code in (*FIT_CODES, *UNMATCHED_CODES):
        assert words.reason({"code": code, **EVERY_PARAMETER}) != fallback, code


def test_weekdays_are_named_in_the_vocabulary_order() -> None:
    words = i18n.words("en")
    assert [words.weekday(day) for day in DAYS] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]


def test_the_forms_offer_the_vocabulary_choices() -> None:
    assert forms.LEVELS == LEVELS and forms.URGENCIES == URGENCIES
    assert sorted(desk.FILTERS) == sorted(REQUEST_STATUSES)
    assert len(set(desk.FILTERS)) == len(desk.FILTERS)
    assert set(domain.WAITING) | set(domain.OPEN_FOR_OFFERS) < set(REQUEST_STATUSES)
