from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.registry import domain
from shared import events
from shared.broker import stream_for


@pytest.mark.parametrize("raw", ["+48601234567", "+358401234567", "+380501234567"])
def test_e164_numbers_pass(raw: str) -> None:
    assert domain.check_phone(raw) == raw


@pytest.mark.parametrize("raw", ["0601234567", "+48 12", "+999123456789", "phone", "+"])
def test_other_numbers_are_refused(raw: str) -> None:
    with pytest.raises(domain.RuleViolation):
        domain.check_phone(raw)


def test_language_codes_are_iso_639_1() -> None:
    assert domain.check_language_code("UK") == "uk"
    for code in ("pl", "ka", "tl", "vi", "fi", "sl", "pt"):
        assert domain.check_language_code(code) == code
    for code in ("xx", "ukr", "", "english"):
        with pytest.raises(domain.RuleViolation):
            domain.check_language_code(code)


def test_time_zones_are_iana_names() -> None:
    assert domain.check_timezone("Europe/Helsinki") == "Europe/Helsinki"
    with pytest.raises(domain.RuleViolation):
        domain.check_timezone("CET+1")


def test_windows_must_end_after_they_start() -> None:
    domain.check_window("09:00", "09:01")
    for start, end in (("10:00", "10:00"), ("18:00", "08:00")):
        with pytest.raises(domain.RuleViolation):
            domain.check_window(start, end)
    for bad in ("9:00", "24:00", "12:60", "noon"):
        with pytest.raises(domain.RuleViolation):
            domain.parse_clock(bad)


def test_needed_by_is_judged_in_the_requests_time_zone() -> None:
    # 23:30 UTC on 1 March is already 2 March in Helsinki but still 1 March in London.
    now = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)
    domain.check_needed_by(date(2027, 3, 1), "Europe/London", now)
    with pytest.raises(domain.RuleViolation):
        domain.check_needed_by(date(2027, 3, 1), "Europe/Helsinki", now)


def test_secrets_are_long_random_and_only_their_hash_matches() -> None:
    a, b = domain.new_secret("org"), domain.new_secret("org")
    assert a != b and a.startswith("org_") and len(a) >= 4 + 43
    stored = domain.hash_secret(a)
    assert stored != a
    assert domain.secret_matches(a, stored)
    assert not domain.secret_matches(b, stored)
    assert not domain.secret_matches(a, None)


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert domain.fingerprint({"a": 1, "b": [1, 2]}) == domain.fingerprint({"b": [1, 2], "a": 1})
    assert domain.fingerprint({"a": 1}) != domain.fingerprint({"a": 2})


def test_final_requests_cannot_be_cancelled() -> None:
    for status in ("open", "proposed", "accepted", "unmatched"):
        domain.check_can_cancel(status)
    for status in ("completed", "cancelled", "expired"):
        with pytest.raises(domain.InvalidTransition):
            domain.check_can_cancel(status)


def test_location_is_rounded_to_about_a_hundred_metres() -> None:
    assert domain.round_coordinate(52.54637) == 52.546


def test_every_event_has_a_versioned_subject_in_a_stream() -> None:
    for subject, model in events.EVENT_TYPES.items():
        producer, entity, verb, version = subject.split(".")
        assert producer in ("registry", "matcher", "notifier") and version == "v1"
        assert model.subject == subject and entity and verb
        assert stream_for(subject) == producer.upper()


def test_events_round_trip_and_reject_unknown_fields() -> None:
    event = events.VolunteerErased(volunteer_id="8f95d64d-8535-455e-9685-49cb773fcea5")
    again = events.parse_event(event.subject, event.model_dump_json().encode())
    assert again == event
    with pytest.raises(ValueError):
        events.parse_event(event.subject, {**event.model_dump(mode="json"), "name": "leak"})
    with pytest.raises(KeyError):
        events.parse_event("registry.unknown.v1", b"{}")


def test_short_codes_name_one_offer_and_action_until_its_deadline() -> None:
    import uuid

    match_id = uuid.uuid4()
    deadline = datetime(2027, 3, 2, 16, 0, tzinfo=UTC)
    code = domain.short_code("secret-0123456789abcdef", match_id, "accept", deadline)
    assert len(code) == 35
    assert domain.read_short_code(code) == (match_id, "accept")
    before = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
    assert domain.short_code_is_valid(
        "secret-0123456789abcdef", code, match_id, "accept", deadline, before
    )
    assert not domain.short_code_is_valid(
        "secret-0123456789abcdef", code, match_id, "accept", deadline, deadline.replace(hour=17)
    )
    assert not domain.short_code_is_valid(
        "another-secret-0123456789", code, match_id, "accept", deadline, before
    )
    decline = domain.short_code("secret-0123456789abcdef", match_id, "decline", deadline)
    assert decline != code and domain.read_short_code(decline) == (match_id, "decline")
    assert domain.read_short_code("nonsense") is None
