"""The registry's use cases against an in-memory unit of work: what they store, what they emit,
and that a refusal changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.registry import domain
from services.registry.adapters.orm import SupportRequest, Volunteer
from services.registry.usecases import (
    audit,
    maintenance,
    offers,
    organisations,
    requests,
    volunteers,
)
from services.registry.usecases.offers import LinkToken, ManageToken, OfferPolicy
from services.registry.usecases.volunteers import SignedIn
from shared import events
from tests.unit.registry.fakes import FakeUnitOfWork

SECRET = "link-secret-0123456789"
POLICY = OfferPolicy()

PROFILE = domain.Profile(
    name="Olena Kovalenko",
    email="Olena@Example.org",
    phone="+48601234567",
    locale="uk",
    languages=[{"code": "uk", "level": "native"}],
    skills=["paperwork"],
    lat=52.54631,
    lon=19.70652,
    max_travel_km=10,
    remote_ok=False,
    availability=[{"day": "tue", "start": "17:00", "end": "20:00"}],
    timezone="Europe/Warsaw",
    capacity=2,
    channels=["email"],
)
NEW_REQUEST = domain.NewRequest(
    beneficiary_display_name="Mariam",
    beneficiary_locale="uk",
    beneficiary_email=None,
    beneficiary_phone=None,
    contact_consent=True,
    languages=["uk"],
    skills=["paperwork"],
    lat=52.55,
    lon=19.7,
    remote_ok=False,
    windows=[{"day": "tue", "start": "16:00", "end": "19:00"}],
    timezone="Europe/Warsaw",
    urgency="high",
    needed_by=date.today() + timedelta(days=30),
    description="Residence permit form.",
)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def kinds(uow: FakeUnitOfWork) -> list[type[events.Event]]:
    return [type(e) for e in uow.published]


async def proposed(
    uow: FakeUnitOfWork, urgency: str = "high"
) -> tuple[SupportRequest, Volunteer, str, events.MatchProposed]:
    """An organisation's request offered to a volunteer; the volunteer's manage token."""
    org, _ = await organisations.create_organisation(uow, "Foundation", "desk@example.org")
    volunteer, token = await volunteers.register_volunteer(uow, PROFILE)
    new = replace(NEW_REQUEST, urgency=urgency)  # type: ignore[arg-type]
    submitted = await requests.submit_request(uow, org, new, "fp", None)
    proposal = events.MatchProposed(
        match_id=uuid.uuid4(),
        request_id=submitted.request.id,
        volunteer_id=volunteer.id,
        organisation_id=org.id,
        urgency=new.urgency,
        score=0.9,
        breakdown={"language": 1.0},
        reasons=[],
    )
    await offers.record_matcher_event(uow, proposal, POLICY)
    return submitted.request, volunteer, token, proposal


# --- organisations --------------------------------------------------------------------------


async def test_an_organisation_is_known_by_its_key_which_is_kept_only_as_a_hash(
    uow: FakeUnitOfWork,
) -> None:
    org, key = await organisations.create_organisation(uow, "Foundation", "desk@example.org", "pl")
    [stored] = uow.committed.organisations.values()
    assert key.startswith("org_") and stored.api_key_hash == domain.hash_secret(key) != key
    assert stored.locale == "pl"
    assert (await organisations.organisation_for_key(uow, key)).id == org.id
    with pytest.raises(domain.Unauthorised):
        await organisations.organisation_for_key(uow, key + "x")
    assert await organisations.find_organisation(uow, org.id) is not None
    assert await organisations.find_organisation(uow, uuid.uuid4()) is None
    assert uow.published == []


# --- requests -------------------------------------------------------------------------------


async def test_a_retried_request_answers_with_the_first_and_a_changed_body_conflicts(
    uow: FakeUnitOfWork,
) -> None:
    org, _ = await organisations.create_organisation(uow, "Foundation", "desk@example.org")
    first = await requests.submit_request(uow, org, NEW_REQUEST, "fp-1", "key-1")
    again = await requests.submit_request(uow, org, NEW_REQUEST, "fp-1", "key-1")
    assert not first.replayed and again.replayed and again.request.id == first.request.id
    with pytest.raises(domain.Conflict):
        await requests.submit_request(uow, org, NEW_REQUEST, "fp-2", "key-1")
    assert len(uow.committed.requests) == 1
    assert kinds(uow) == [events.RequestSubmitted]
    [submitted] = uow.published
    assert isinstance(submitted, events.RequestSubmitted)
    assert submitted.location == events.Location(lat=52.55, lon=19.7)


async def test_a_concurrent_retry_that_stored_the_key_first_is_answered_as_a_replay(
    uow: FakeUnitOfWork,
) -> None:
    org, _ = await organisations.create_organisation(uow, "Foundation", "desk@example.org")
    winner = SupportRequest(
        id=uuid.uuid4(),
        organisation_id=org.id,
        idempotency_key="key-1",
        body_fingerprint="fp-1",
        status="open",
    )

    def another_transaction_commits() -> None:
        uow.committed.requests[winner.id] = winner

    uow.before_add = another_transaction_commits
    answer = await requests.submit_request(uow, org, NEW_REQUEST, "fp-1", "key-1")
    assert answer.replayed and answer.request.id == winner.id
    assert list(uow.committed.requests) == [winner.id]
    assert uow.published == []


async def test_cancelling_withdraws_the_open_offer_and_is_refused_twice_or_to_others(
    uow: FakeUnitOfWork,
) -> None:
    request, volunteer, _, proposal = await proposed(uow)
    org = uow.committed.organisations[request.organisation_id]
    other, _ = await organisations.create_organisation(uow, "Other", "other@example.org")
    before = len(uow.published)
    with pytest.raises(domain.NotFound):
        await requests.cancel_request(uow, other, request.id)
    assert uow.committed.requests[request.id].status == "proposed"

    view = await requests.cancel_request(uow, org, request.id)
    assert view.request.status == "cancelled"
    assert uow.committed.matches[proposal.match_id].status == "withdrawn"
    [cancelled] = uow.published[before:]
    assert isinstance(cancelled, events.RequestCancelled)
    assert (cancelled.match_id, cancelled.volunteer_id) == (proposal.match_id, volunteer.id)

    with pytest.raises(domain.InvalidTransition):
        await requests.cancel_request(uow, org, request.id)
    assert len(uow.published) == before + 1


async def test_cancelling_an_accepted_request_calls_the_match_off(uow: FakeUnitOfWork) -> None:
    request, _, token, proposal = await proposed(uow)
    org = uow.committed.organisations[request.organisation_id]
    await offers.respond(
        uow, proposal.match_id, domain.ACCEPT, ManageToken(token), link_secret=SECRET
    )
    await requests.cancel_request(uow, org, request.id)
    assert uow.committed.matches[proposal.match_id].status == "cancelled"


# --- offers ---------------------------------------------------------------------------------


async def test_a_proposal_is_recorded_once_however_often_it_arrives(uow: FakeUnitOfWork) -> None:
    request, _, _, proposal = await proposed(uow, urgency="critical")
    await offers.record_matcher_event(uow, proposal, POLICY)
    [match] = uow.committed.matches.values()
    assert match.respond_by - proposal.occurred_at == POLICY.critical_ttl
    assert uow.committed.requests[request.id].status == "proposed"


async def test_a_proposal_that_crossed_a_cancellation_is_kept_but_never_offered(
    uow: FakeUnitOfWork,
) -> None:
    request, volunteer, _, _ = await proposed(uow)
    org = uow.committed.organisations[request.organisation_id]
    await requests.cancel_request(uow, org, request.id)
    late = events.MatchProposed(
        match_id=uuid.uuid4(),
        request_id=request.id,
        volunteer_id=volunteer.id,
        organisation_id=org.id,
        urgency="high",
        score=0.5,
        breakdown={},
        reasons=[],
    )
    await offers.record_matcher_event(uow, late, POLICY)
    assert uow.committed.matches[late.match_id].status == "withdrawn"
    assert uow.committed.requests[request.id].status == "cancelled"


async def test_the_signed_link_accepts_and_the_manage_token_declines(uow: FakeUnitOfWork) -> None:
    request, _, token, proposal = await proposed(uow)
    link = domain.sign_link(
        SECRET, proposal.match_id, domain.ACCEPT, datetime.now(UTC) + timedelta(hours=1)
    )
    match = await offers.respond(
        uow, proposal.match_id, domain.ACCEPT, LinkToken(link), link_secret=SECRET
    )
    assert match.status == "accepted"
    assert uow.committed.requests[request.id].status == "accepted"
    assert kinds(uow)[-1] is events.MatchAccepted

    second, _, token, offer = await proposed(uow)
    await offers.respond(
        uow, offer.match_id, domain.DECLINE, ManageToken(token), link_secret=SECRET
    )
    assert uow.committed.matches[offer.match_id].status == "declined"
    assert uow.committed.requests[second.id].status == "open"
    declined = uow.published[-1]
    assert isinstance(declined, events.MatchDeclined) and declined.reason == "declined"


@pytest.mark.parametrize(
    ("credential", "refusal"),
    [
        (None, domain.Unauthorised),
        (LinkToken("1.not-a-signature"), domain.Unauthorised),
        (ManageToken("vol_someone-else"), domain.NotFound),
        (SignedIn(uuid.uuid4()), domain.NotFound),
    ],
)
async def test_only_the_volunteer_asked_may_answer_and_a_refusal_changes_nothing(
    uow: FakeUnitOfWork, credential: offers.OfferCredential, refusal: type[Exception]
) -> None:
    request, _, _, proposal = await proposed(uow)
    before = len(uow.published)
    with pytest.raises(refusal):
        await offers.respond(uow, proposal.match_id, domain.ACCEPT, credential, link_secret=SECRET)
    assert uow.committed.matches[proposal.match_id].status == "proposed"
    assert uow.committed.requests[request.id].status == "proposed"
    assert len(uow.published) == before


async def test_an_offer_is_answered_once_and_only_before_its_deadline(uow: FakeUnitOfWork) -> None:
    _, volunteer, _, proposal = await proposed(uow)
    me = SignedIn(volunteer.id)
    await offers.respond(uow, proposal.match_id, domain.DECLINE, me, link_secret=SECRET)
    with pytest.raises(domain.InvalidTransition, match="already declined"):
        await offers.respond(uow, proposal.match_id, domain.ACCEPT, me, link_secret=SECRET)

    _, volunteer, _, late = await proposed(uow)
    uow.committed.matches[late.match_id].respond_by = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(domain.InvalidTransition, match="expired"):
        await offers.respond(
            uow, late.match_id, domain.ACCEPT, SignedIn(volunteer.id), link_secret=SECRET
        )


async def test_offers_nobody_answered_expire_and_their_requests_go_back_to_matching(
    uow: FakeUnitOfWork,
) -> None:
    request, _, _, proposal = await proposed(uow)
    assert await maintenance.expire_offers(uow, now=datetime.now(UTC) + timedelta(hours=1)) == 0
    later = datetime.now(UTC) + timedelta(hours=49)
    assert await maintenance.expire_offers(uow, now=later) == 1
    assert uow.committed.matches[proposal.match_id].status == "expired"
    assert uow.committed.requests[request.id].status == "open"
    expired = uow.published[-1]
    assert isinstance(expired, events.MatchDeclined) and expired.reason == "expired"


# --- volunteers -----------------------------------------------------------------------------


async def test_erasure_empties_every_personal_field_and_the_key_opens_nothing_after(
    uow: FakeUnitOfWork,
) -> None:
    volunteer, token = await volunteers.register_volunteer(uow, PROFILE)
    await volunteers.erase_volunteer(uow, volunteer.id, token)
    stored = uow.committed.volunteers[volunteer.id]
    personal = (stored.name, stored.email, stored.phone, stored.lat, stored.lon)
    assert personal == (None,) * 5
    assert stored.manage_token_hash is None and stored.erased_at is not None and stored.paused
    assert kinds(uow) == [events.VolunteerRegistered, events.VolunteerErased]
    with pytest.raises(domain.Unauthorised):
        await volunteers.get_volunteer(uow, volunteer.id, token)
    with pytest.raises(domain.NotFound):
        await volunteers.get_volunteer(uow, volunteer.id, SignedIn(volunteer.id))
    assert await volunteers.find_signed_in(uow, SignedIn(volunteer.id)) is None


async def test_a_change_refused_by_the_rules_leaves_the_profile_as_it_was(
    uow: FakeUnitOfWork,
) -> None:
    volunteer, token = await volunteers.register_volunteer(uow, PROFILE)

    def refuse(stored: Volunteer) -> domain.Profile:
        raise domain.RuleViolation("capacity is out of range")

    with pytest.raises(domain.RuleViolation):
        await volunteers.update_volunteer(uow, volunteer.id, token, refuse, paused=True)
    assert not uow.committed.volunteers[volunteer.id].paused
    assert kinds(uow) == [events.VolunteerRegistered]

    changed = await volunteers.update_volunteer(
        uow, volunteer.id, token, lambda stored: replace(PROFILE, capacity=5), paused=True
    )
    assert changed.capacity == 5 and changed.paused
    snapshot = uow.published[-1]
    assert isinstance(snapshot, events.VolunteerUpdated) and snapshot.paused
    assert snapshot.location == events.Location(lat=52.546, lon=19.707)


async def test_sign_up_welcomes_and_sign_in_links_go_to_each_live_profile_of_an_address(
    uow: FakeUnitOfWork,
) -> None:
    first, _ = await volunteers.register_volunteer(uow, PROFILE, welcome=True)
    assert kinds(uow) == [events.VolunteerRegistered, events.VolunteerSignInRequested]
    assert uow.commits == 1
    welcome = uow.published[-1]
    assert isinstance(welcome, events.VolunteerSignInRequested) and welcome.welcome

    gone, gone_token = await volunteers.register_volunteer(uow, PROFILE)
    await volunteers.erase_volunteer(uow, gone.id, gone_token)
    before = len(uow.published)
    assert await volunteers.request_sign_in(uow, "  olena@EXAMPLE.org ") == 1
    [link] = uow.published[before:]
    assert isinstance(link, events.VolunteerSignInRequested)
    assert link.volunteer_id == first.id and not link.welcome
    assert await volunteers.request_sign_in(uow, "nobody@example.org") == 0


# --- audit ----------------------------------------------------------------------------------


async def test_an_erasure_refused_leaves_no_audit_entry_and_one_done_leaves_one(
    uow: FakeUnitOfWork,
) -> None:
    volunteer, token = await volunteers.register_volunteer(uow, PROFILE)
    with pytest.raises(domain.Unauthorised):
        await volunteers.erase_volunteer(uow, volunteer.id, "not-the-token")
    assert uow.committed.audit == []
    await volunteers.erase_volunteer(uow, volunteer.id, token)
    [entry] = uow.committed.audit
    assert (entry.action, entry.actor_kind, entry.actor_id, entry.object_id) == (
        "volunteer.erased",
        "volunteer",
        volunteer.id,
        volunteer.id,
    )
    assert entry.organisation_id is None


async def test_the_trail_is_read_per_organisation_newest_first_and_forgotten_when_old(
    uow: FakeUnitOfWork,
) -> None:
    first, _ = await organisations.create_organisation(uow, "Foundation", "desk@example.org")
    second, _ = await organisations.create_organisation(uow, "Office", "office@example.org")
    everyone = await audit.read(uow, None, None, 10)
    assert [e.object_id for e in everyone] == [second.id, first.id]
    assert [e.object_id for e in await audit.read(uow, first.id, None, 10)] == [first.id]
    assert [e.object_id for e in await audit.read(uow, None, everyone[0].id, 10)] == [first.id]
    uow.committed.audit[0].at -= timedelta(days=40)
    assert await audit.forget_old(uow, timedelta(days=30)) == 1
    assert [e.object_id for e in await audit.read(uow, None, None, 10)] == [second.id]
