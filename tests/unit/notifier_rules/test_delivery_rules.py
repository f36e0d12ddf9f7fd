"""Who hears what, quiet hours and backoff: the notifier's pure rules."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain import rules as domain
from shared import events

IDS = {
    "match_id": uuid.uuid4(),
    "request_id": uuid.uuid4(),
    "volunteer_id": uuid.uuid4(),
    "organisation_id": uuid.uuid4(),
}


def proposed(urgency: str = "normal") -> events.MatchProposed:
    return events.MatchProposed(**IDS, urgency=urgency, score=0.5, breakdown={}, reasons=[])  # type: ignore[arg-type]


def test_an_offer_goes_to_the_volunteer_by_email_and_sms() -> None:
    planned = domain.plan(proposed())
    assert [(p.kind, p.channel, p.recipient) for p in planned] == [
        ("offer", "email", "volunteer"),
        ("offer", "sms", "volunteer"),
    ]
    assert not any(p.critical for p in planned)
    assert all(p.critical for p in domain.plan(proposed("critical")))


def test_who_hears_of_acceptance_decline_unmatched_and_cancellation() -> None:
    accepted = domain.plan(events.MatchAccepted(**IDS))
    assert {(p.kind, p.recipient) for p in accepted} == {
        ("match_accepted_organisation", "organisation"),
        ("match_accepted_beneficiary", "beneficiary"),
    }
    declined = domain.plan(events.MatchDeclined(**IDS, reason="expired"))
    assert [(p.kind, p.params) for p in declined] == [
        ("offer_declined_organisation", {"outcome": "expired"})
    ]
    unmatched = domain.plan(
        events.RequestUnmatched(
            request_id=IDS["request_id"],
            organisation_id=IDS["organisation_id"],
            reasons=[events.Reason(code="no_shared_language", languages=["ka"])],  # type: ignore[call-arg]
        )
    )
    assert unmatched[0].params == {"reasons": [{"code": "no_shared_language", "languages": ["ka"]}]}
    with_offer = events.RequestCancelled(**{k: IDS[k] for k in IDS})
    assert {p.kind for p in domain.plan(with_offer)} == {"offer_withdrawn"}
    without = events.RequestCancelled(
        request_id=IDS["request_id"], organisation_id=IDS["organisation_id"]
    )
    assert domain.plan(without) == []
    assert domain.plan(events.VolunteerErased(volunteer_id=IDS["volunteer_id"])) == []


def test_keys_differ_by_event_channel_and_kind_but_not_by_redelivery() -> None:
    event = proposed()
    email, sms = domain.plan(event)
    assert email.key(event.event_id) == domain.plan(event)[0].key(event.event_id)
    assert email.key(event.event_id) != sms.key(event.event_id)
    assert email.key(event.event_id) != email.key(uuid.uuid4())


@pytest.mark.parametrize(
    ("utc", "expected_local_wake"),
    [
        (datetime(2027, 1, 12, 20, 30, tzinfo=UTC), "2027-01-13T08:00+01:00"),  # 21:30 in Warsaw
        (datetime(2027, 1, 12, 5, 0, tzinfo=UTC), "2027-01-12T08:00+01:00"),  # 06:00 in Warsaw
        # The night the clocks go forward: 08:00 local is 06:00 UTC, not 07:00.
        (datetime(2027, 3, 27, 21, 0, tzinfo=UTC), "2027-03-28T08:00+02:00"),
    ],
)
def test_quiet_hours_end_at_eight_local_time(utc: datetime, expected_local_wake: str) -> None:
    wake = domain.quiet_until(utc, "Europe/Warsaw", 21, 8)
    assert wake is not None
    assert wake == datetime.fromisoformat(expected_local_wake)


def test_daytime_is_not_quiet_and_zones_differ() -> None:
    noon = datetime(2027, 1, 12, 11, 0, tzinfo=UTC)
    assert domain.quiet_until(noon, "Europe/Warsaw", 21, 8) is None
    # 19:30 UTC is 20:30 in Warsaw (not quiet) but 21:30 in Helsinki (quiet).
    evening = datetime(2027, 1, 12, 19, 30, tzinfo=UTC)
    assert domain.quiet_until(evening, "Europe/Warsaw", 21, 8) is None
    assert domain.quiet_until(evening, "Europe/Helsinki", 21, 8) is not None


def test_backoff_grows_exponentially_with_jitter() -> None:
    rng = random.Random(7)
    waits = [domain.backoff(attempt, 2.0, rng) for attempt in range(1, 6)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert timedelta(seconds=ceiling / 2) <= wait <= timedelta(seconds=ceiling)
    assert len({w.total_seconds() for w in waits}) == 5


def context(**volunteer: object) -> dict[str, object]:
    return {
        "request": {
            "timezone": "Europe/Warsaw",
            "beneficiary": {"locale": "uk", "contact_consent": False, "email": None, "phone": None},
        },
        "organisation": {"email": "desk@example.org"},
        "volunteer": {
            "locale": "uk",
            "timezone": "Europe/Warsaw",
            "channels": ["email", "sms"],
            "email": "o@example.org",
            "phone": None,
            "erased": False,
        }
        | volunteer,
    }


def test_recipients_are_resolved_from_current_details_and_preferences() -> None:
    assert domain.recipient("volunteer", "email", context()).address == "o@example.org"
    assert domain.recipient("volunteer", "sms", context()).skip_reason == "no sms address"
    opted_out = domain.recipient("volunteer", "email", context(channels=["sms"]))
    assert opted_out.address is None and "opted out" in (opted_out.skip_reason or "")
    erased = domain.recipient("volunteer", "email", context(erased=True))
    assert erased.address is None
    no_consent = domain.recipient("beneficiary", "email", context())
    assert no_consent.skip_reason == "no contact consent"
    assert domain.recipient("organisation", "email", context()).address == "desk@example.org"


# --- sign-in links --------------------------------------------------------------------------

EXPIRES = datetime(2027, 3, 2, 16, 0, 0, 750_000, tzinfo=UTC)


def sign_in_requested(welcome: bool = False) -> events.VolunteerSignInRequested:
    return events.VolunteerSignInRequested(
        volunteer_id=IDS["volunteer_id"], expires_at=EXPIRES, welcome=welcome
    )


def sign_in_context(**volunteer: object) -> dict[str, object]:
    return {
        "volunteer": {
            "first_name": "Olena",
            "locale": "uk",
            "timezone": "Europe/Kyiv",
            "channels": ["email", "sms"],
            "email": "o@example.org",
            "phone": "+48601234567",
            "erased": False,
        }
        | volunteer,
        "sign_in_url": "https://match.example.org/volunteer/enter/x?expires=1&token=t",
    }


def test_a_sign_in_link_goes_by_email_only_and_is_never_held() -> None:
    event = sign_in_requested(welcome=True)
    [planned] = domain.plan(event)
    assert (planned.kind, planned.channel, planned.recipient) == (
        "sign_in_link",
        "email",
        "volunteer",
    )
    assert planned.volunteer_id == IDS["volunteer_id"] and planned.request_id is None
    assert planned.critical
    # Whole seconds, as the link carries them.
    assert planned.params == {"expires_at": "2027-03-02T16:00:00+00:00", "welcome": True}
    assert domain.plan(event)[0].key(event.event_id) == planned.key(event.event_id)
    assert planned.key(event.event_id) != domain.plan(sign_in_requested())[0].key(uuid.uuid4())


def test_whole_seconds_take_a_naive_instant_as_utc() -> None:
    assert domain.whole_seconds(datetime(2027, 3, 2, 16, 0, 0, 999_999)) == datetime(
        2027, 3, 2, 16, 0, tzinfo=UTC
    )
    params = {"expires_at": "2027-03-02T18:00:00.5+02:00"}
    assert domain.link_expires_at(params) == datetime(2027, 3, 2, 16, 0, tzinfo=UTC)


def test_a_sign_in_link_is_not_sent_once_expired_or_without_a_link() -> None:
    [planned] = domain.plan(sign_in_requested())
    before, after = EXPIRES - timedelta(minutes=1), EXPIRES + timedelta(seconds=1)
    assert (
        domain.reason_not_to_send("sign_in_link", sign_in_context(), planned.params, before) is None
    )
    assert domain.reason_not_to_send("sign_in_link", sign_in_context(), planned.params, after) == (
        "the link expired before it could be sent"
    )
    no_link = sign_in_context() | {"sign_in_url": None}
    assert domain.reason_not_to_send("sign_in_link", no_link, planned.params, before) == (
        "the registry gave no link"
    )
    offer = {"match": {"status": "accepted"}}
    assert domain.reason_not_to_send("offer", offer, {}, before) == "the offer is accepted"
    assert domain.reason_not_to_send("offer", {"match": {"status": "proposed"}}, {}, before) is None


def test_a_sign_in_link_reaches_whoever_asked_unless_erased() -> None:
    to = domain.recipient("volunteer", "email", sign_in_context(), "sign_in_link")
    assert (to.address, to.locale, to.timezone) == ("o@example.org", "uk", "Europe/Kyiv")
    # Preferences are about offers: a link the volunteer asked for still reaches them.
    sms_only = sign_in_context(channels=["sms"])
    assert domain.recipient("volunteer", "email", sms_only, "sign_in_link").address == (
        "o@example.org"
    )
    assert domain.recipient("volunteer", "email", sms_only, "offer").address is None
    erased = sign_in_context(erased=True, email=None, first_name=None)
    gone = domain.recipient("volunteer", "email", erased, "sign_in_link")
    assert gone.address is None and gone.skip_reason == "the volunteer erased their data"


def test_the_sign_in_template_context() -> None:
    [planned] = domain.plan(sign_in_requested(welcome=True))
    values = domain.template_context("sign_in_link", sign_in_context(), planned.params)
    assert values == {
        "volunteer_first_name": "Olena",
        "sign_in_url": "https://match.example.org/volunteer/enter/x?expires=1&token=t",
        "expires_at": datetime(2027, 3, 2, 16, 0, tzinfo=UTC),
        "welcome": True,
    }
