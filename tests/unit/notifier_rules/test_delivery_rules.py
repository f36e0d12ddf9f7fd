"""Who hears what, quiet hours and backoff: the notifier's pure rules."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.notifier.domain import planning, sending
from services.notifier.domain.template_context import template_context
from shared import events
from shared.contacts import RequestContext, SignInContext

IDS = {
    "match_id": uuid.uuid4(),
    "request_id": uuid.uuid4(),
    "volunteer_id": uuid.uuid4(),
    "organisation_id": uuid.uuid4(),
}


def proposed(urgency: str = "normal") -> events.MatchProposed:
    return events.MatchProposed(**IDS, urgency=urgency, score=0.5, breakdown={}, reasons=[])  # type: ignore[arg-type]


def test_an_offer_goes_to_the_volunteer_by_email_and_sms() -> None:
    planned = planning.plan(proposed())
    assert [(p.kind, p.channel, p.recipient) for p in planned] == [
        ("offer", "email", "volunteer"),
        ("offer", "sms", "volunteer"),
    ]
    assert not any(p.critical for p in planned)
    assert all(p.critical for p in planning.plan(proposed("critical")))


def test_who_hears_of_acceptance_decline_unmatched_and_cancellation() -> None:
    accepted = planning.plan(events.MatchAccepted(**IDS))
    assert {(p.kind, p.recipient) for p in accepted} == {
        ("match_accepted_organisation", "organisation"),
        ("match_accepted_beneficiary", "beneficiary"),
    }
    declined = planning.plan(events.MatchDeclined(**IDS, reason="expired"))
    assert [(p.kind, p.params) for p in declined] == [
        ("offer_declined_organisation", {"outcome": "expired"})
    ]
    unmatched = planning.plan(
        events.RequestUnmatched(
            request_id=IDS["request_id"],
            organisation_id=IDS["organisation_id"],
            reasons=[events.Reason(code="no_shared_language", languages=["ka"])],  # type: ignore[call-arg]
        )
    )
    assert unmatched[0].params == {"reasons": [{"code": "no_shared_language", "languages": ["ka"]}]}
    with_offer = events.RequestCancelled(**{k: IDS[k] for k in IDS})
    assert {p.kind for p in planning.plan(with_offer)} == {"offer_withdrawn"}
    without = events.RequestCancelled(
        request_id=IDS["request_id"], organisation_id=IDS["organisation_id"]
    )
    assert planning.plan(without) == []
    assert planning.plan(events.VolunteerErased(volunteer_id=IDS["volunteer_id"])) == []


def test_keys_differ_by_event_channel_and_kind_but_not_by_redelivery() -> None:
    event = proposed()
    email, sms = planning.plan(event)
    assert email.key(event.event_id) == planning.plan(event)[0].key(event.event_id)
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
    wake = sending.quiet_until(utc, "Europe/Warsaw", 21, 8)
    assert wake is not None
    assert wake == datetime.fromisoformat(expected_local_wake)


def test_daytime_is_not_quiet_and_zones_differ() -> None:
    noon = datetime(2027, 1, 12, 11, 0, tzinfo=UTC)
    assert sending.quiet_until(noon, "Europe/Warsaw", 21, 8) is None
    # 19:30 UTC is 20:30 in Warsaw (not quiet) but 21:30 in Helsinki (quiet).
    evening = datetime(2027, 1, 12, 19, 30, tzinfo=UTC)
    assert sending.quiet_until(evening, "Europe/Warsaw", 21, 8) is None
    assert sending.quiet_until(evening, "Europe/Helsinki", 21, 8) is not None


def test_backoff_grows_exponentially_with_jitter() -> None:
    rng = random.Random(7)
    waits = [sending.backoff(attempt, 2.0, rng) for attempt in range(1, 6)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert timedelta(seconds=ceiling / 2) <= wait <= timedelta(seconds=ceiling)
    assert len({w.total_seconds() for w in waits}) == 5


def answer(**volunteer: object) -> dict[str, Any]:
    """A request look-up as the registry answers it."""
    return {
        "request": {
            "id": str(IDS["request_id"]),
            "reference": str(IDS["request_id"])[:8],
            "status": "proposed",
            "skills": ["paperwork"],
            "languages": ["uk"],
            "urgency": "normal",
            "needed_by": "2027-03-10",
            "timezone": "Europe/Warsaw",
            "remote": False,
            "beneficiary": {
                "display_name": "Olena K.",
                "locale": "uk",
                "contact_consent": False,
                "email": None,
                "phone": None,
            },
        },
        "organisation": {
            "id": str(IDS["organisation_id"]),
            "name": "Płock Family Foundation",
            "email": "desk@example.org",
            "locale": "pl",
        },
        "volunteer": {
            "id": str(IDS["volunteer_id"]),
            "first_name": "Olena",
            "locale": "uk",
            "timezone": "Europe/Warsaw",
            "channels": ["email", "sms"],
            "email": "o@example.org",
            "phone": None,
            "erased": False,
        }
        | volunteer,
        "match": None,
    }


def context(**volunteer: object) -> RequestContext:
    return RequestContext.model_validate(answer(**volunteer))


def offer_context(status: str) -> RequestContext:
    """A match look-up: the offer, and its signed links while it can be answered."""
    match: dict[str, Any] = {
        "id": str(IDS["match_id"]),
        "status": status,
        "respond_by": "2027-03-02T16:00:00+00:00",
        "reasons": [
            {"code": "shared_language", "language": "uk", "level": "native"},
            {"code": "distance", "km": 1.2},
        ],
    }
    if status == "proposed":
        base = f"https://match.example.org/offers/{IDS['match_id']}"
        match |= {
            "accept_url": f"{base}/accept?token=a",
            "decline_url": f"{base}/decline?token=d",
            "accept_short_url": "https://match.example.org/o/a",
            "decline_short_url": "https://match.example.org/o/d",
        }
    return RequestContext.model_validate(answer() | {"match": match})


def test_recipients_are_resolved_from_current_details_and_preferences() -> None:
    assert sending.recipient("volunteer", "email", context()).address == "o@example.org"
    assert sending.recipient("volunteer", "sms", context()).skip_reason == "no sms address"
    opted_out = sending.recipient("volunteer", "email", context(channels=["sms"]))
    assert opted_out.address is None and "opted out" in (opted_out.skip_reason or "")
    erased = sending.recipient("volunteer", "email", context(erased=True))
    assert erased.address is None
    no_consent = sending.recipient("beneficiary", "email", context())
    assert no_consent.skip_reason == "no contact consent"
    assert sending.recipient("organisation", "email", context()).address == "desk@example.org"


# --- sign-in links --------------------------------------------------------------------------

EXPIRES = datetime(2027, 3, 2, 16, 0, 0, 750_000, tzinfo=UTC)


def sign_in_requested(welcome: bool = False) -> events.VolunteerSignInRequested:
    return events.VolunteerSignInRequested(
        volunteer_id=IDS["volunteer_id"], expires_at=EXPIRES, welcome=welcome
    )


def sign_in_answer(**volunteer: object) -> dict[str, Any]:
    """A sign-in look-up as the registry answers it."""
    return {
        "volunteer": {
            "id": str(IDS["volunteer_id"]),
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


def sign_in(**volunteer: object) -> SignInContext:
    return SignInContext.model_validate(sign_in_answer(**volunteer))


def test_a_sign_in_link_goes_by_email_only_and_is_never_held() -> None:
    event = sign_in_requested(welcome=True)
    [planned] = planning.plan(event)
    assert (planned.kind, planned.channel, planned.recipient) == (
        "sign_in_link",
        "email",
        "volunteer",
    )
    assert planned.volunteer_id == IDS["volunteer_id"] and planned.request_id is None
    assert planned.critical
    # Whole seconds, as the link carries them.
    assert planned.params == {"expires_at": "2027-03-02T16:00:00+00:00", "welcome": True}
    assert planning.plan(event)[0].key(event.event_id) == planned.key(event.event_id)
    assert planned.key(event.event_id) != planning.plan(sign_in_requested())[0].key(uuid.uuid4())


def test_whole_seconds_take_a_naive_instant_as_utc() -> None:
    assert planning.whole_seconds(datetime(2027, 3, 2, 16, 0, 0, 999_999)) == datetime(
        2027, 3, 2, 16, 0, tzinfo=UTC
    )
    params = {"expires_at": "2027-03-02T18:00:00.5+02:00"}
    assert planning.link_expires_at(params) == datetime(2027, 3, 2, 16, 0, tzinfo=UTC)


def test_a_sign_in_link_is_not_sent_once_expired_or_without_a_link() -> None:
    [planned] = planning.plan(sign_in_requested())
    before, after = EXPIRES - timedelta(minutes=1), EXPIRES + timedelta(seconds=1)
    assert sending.reason_not_to_send("sign_in_link", sign_in(), planned.params, before) is None
    assert sending.reason_not_to_send("sign_in_link", sign_in(), planned.params, after) == (
        "the link expired before it could be sent"
    )
    no_link = SignInContext.model_validate(sign_in_answer() | {"sign_in_url": None})
    assert sending.reason_not_to_send("sign_in_link", no_link, planned.params, before) == (
        "the registry gave no link"
    )
    offer = offer_context("accepted")
    assert sending.reason_not_to_send("offer", offer, {}, before) == "the offer is accepted"
    assert sending.reason_not_to_send("offer", offer_context("proposed"), {}, before) is None


def test_a_sign_in_link_reaches_whoever_asked_unless_erased() -> None:
    to = sending.recipient("volunteer", "email", sign_in(), "sign_in_link")
    assert (to.address, to.locale, to.timezone) == ("o@example.org", "uk", "Europe/Kyiv")
    # Preferences are about offers: a link the volunteer asked for still reaches them.
    sms_only = sign_in(channels=["sms"])
    assert sending.recipient("volunteer", "email", sms_only, "sign_in_link").address == (
        "o@example.org"
    )
    assert sending.recipient("volunteer", "email", sms_only, "offer").address is None
    erased = sign_in(erased=True, email=None, first_name=None)
    gone = sending.recipient("volunteer", "email", erased, "sign_in_link")
    assert gone.address is None and gone.skip_reason == "the volunteer erased their data"


def test_the_sign_in_template_context() -> None:
    [planned] = planning.plan(sign_in_requested(welcome=True))
    values = template_context("sign_in_link", sign_in(), planned.params)
    assert values == {
        "volunteer_first_name": "Olena",
        "sign_in_url": "https://match.example.org/volunteer/enter/x?expires=1&token=t",
        "expires_at": datetime(2027, 3, 2, 16, 0, tzinfo=UTC),
        "welcome": True,
    }


# --- the registry's answers, typed ----------------------------------------------------------


def test_the_offer_template_context_takes_the_typed_answer() -> None:
    offer = offer_context("proposed")
    email = template_context("offer", offer, {})
    assert email == {
        "organisation_name": "Płock Family Foundation",
        "skills": ["paperwork"],
        "needed_by": date(2027, 3, 10),
        "volunteer_first_name": "Olena",
        "languages": ["uk"],
        "urgency": "normal",
        "remote": False,
        "distance_km": 1.2,
        "reasons": [
            {"code": "shared_language", "language": "uk", "level": "native"},
            {"code": "distance", "km": 1.2},
        ],
        "accept_url": f"https://match.example.org/offers/{IDS['match_id']}/accept?token=a",
        "decline_url": f"https://match.example.org/offers/{IDS['match_id']}/decline?token=d",
        "respond_by": datetime(2027, 3, 2, 16, 0, tzinfo=UTC),
    }
    sms = template_context("offer", offer, {}, short_links=True)
    assert (sms["accept_url"], sms["decline_url"]) == (
        "https://match.example.org/o/a",
        "https://match.example.org/o/d",
    )


def test_the_organisation_hears_only_the_contact_details_the_volunteer_has() -> None:
    values = template_context("match_accepted_organisation", context(), {})
    assert values["volunteer_contact"] == {"email": "o@example.org"}
    assert values["request_reference"] == str(IDS["request_id"])[:8]
    assert values["beneficiary_display_name"] == "Olena K."
    declined = template_context("offer_declined_organisation", context(), {"outcome": "expired"})
    assert declined["outcome"] == "expired" and declined["next_step"] == "searching"


def test_an_erased_volunteer_is_greeted_without_a_name() -> None:
    erased = context(erased=True, first_name=None, email=None)
    assert erased.volunteer is not None and erased.volunteer.first_name is None
    assert template_context("offer_withdrawn", erased, {})["volunteer_first_name"] == ""
    to = sending.recipient("volunteer", "sms", erased, "offer_withdrawn")
    assert to.address is None and to.skip_reason == "the volunteer erased their data"


def test_a_beneficiary_who_agreed_is_reached_on_the_channels_they_gave() -> None:
    agreed = answer()
    agreed["request"]["beneficiary"] |= {"contact_consent": True, "email": "b@example.org"}
    typed = RequestContext.model_validate(agreed)
    email = sending.recipient("beneficiary", "email", typed, "match_accepted_beneficiary")
    assert (email.address, email.locale, email.timezone) == ("b@example.org", "uk", "Europe/Warsaw")
    sms = sending.recipient("beneficiary", "sms", typed, "match_accepted_beneficiary")
    assert sms.address is None and sms.skip_reason == "no sms address"
