"""Offers: recorded from the matcher's proposals and verdicts (once per event), answered by the
volunteer, completed by the organisation. Every transition is published."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.registry import domain
from services.registry.adapters.orm import Match, Organisation, SupportRequest, Volunteer
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.metrics import TIME_TO_ACCEPTANCE, TIME_TO_PROPOSAL, count_offer
from services.registry.usecases.published import offer_ids
from services.registry.usecases.volunteers import SignedIn
from shared import events


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OfferPolicy:
    ttl: timedelta = timedelta(hours=48)
    critical_ttl: timedelta = timedelta(hours=4)


@dataclass(frozen=True)
class LinkToken:
    """The signed token of an offer's accept or decline link."""

    token: str


@dataclass(frozen=True)
class ManageToken:
    """The volunteer's own key."""

    token: str


# Who answers an offer: the link from the offer message, the volunteer's key, or their web
# session; None when the caller brought none of them.
OfferCredential = LinkToken | ManageToken | SignedIn | None


@dataclass(frozen=True)
class Offer:
    """An offer with its request and the volunteer asked, as a page shows it."""

    match: Match
    request: SupportRequest | None
    volunteer: Volunteer | None


async def record_matcher_event(uow: UnitOfWork, event: events.Event, policy: OfferPolicy) -> None:
    """Apply ``matcher.match.proposed`` / ``matcher.request.unmatched`` once."""
    async with uow:
        if not await uow.processed_events.first_time(event.event_id, event.subject, _now()):
            return
        observe = None
        if isinstance(event, events.MatchProposed):
            observe = await _record_proposal(uow, event, policy)
        elif isinstance(event, events.RequestUnmatched):
            await _record_unmatched(uow, event)
        await uow.commit()
    if observe is not None:
        observe()


async def _record_proposal(
    uow: UnitOfWork, event: events.MatchProposed, policy: OfferPolicy
) -> Callable[[], None]:
    """Record the offer; returns what to count once it is committed."""
    request = await uow.requests.get(event.request_id, lock=True)
    if request is None:
        raise domain.NotFound(f"request {event.request_id} is unknown")
    open_for_offers = request.status in domain.OPEN_FOR_OFFERS
    first_offer = not await uow.matches.any_for(request.id)
    waited = (event.occurred_at - request.created_at).total_seconds()
    uow.matches.add(
        Match(
            id=event.match_id,
            request_id=event.request_id,
            volunteer_id=event.volunteer_id,
            # A proposal that crossed a cancellation is kept for the record, never offered.
            status="proposed" if open_for_offers else "withdrawn",
            score=event.score,
            breakdown=event.breakdown,
            reasons=[r.model_dump(mode="json") for r in event.reasons],
            proposed_at=event.occurred_at,
            respond_by=domain.respond_by(
                event.occurred_at, event.urgency, policy.ttl, policy.critical_ttl
            ),
        )
    )
    if open_for_offers:
        request.status = "proposed"
        request.unmatched_reasons = []
        request.updated_at = _now()

    def observe() -> None:
        count_offer("proposed", event.urgency)
        if first_offer:
            TIME_TO_PROPOSAL.labels(event.urgency).observe(max(waited, 0.0))

    return observe


async def _record_unmatched(uow: UnitOfWork, event: events.RequestUnmatched) -> None:
    request = await uow.requests.get(event.request_id, lock=True)
    if request is None:
        raise domain.NotFound(f"request {event.request_id} is unknown")
    if request.status in domain.OPEN_FOR_OFFERS:
        request.status = "unmatched"
        request.unmatched_reasons = [r.model_dump(mode="json") for r in event.reasons]
        request.updated_at = _now()


# --- answers --------------------------------------------------------------------------------


async def _match_for_update(uow: UnitOfWork, match_id: uuid.UUID) -> tuple[Match, SupportRequest]:
    match = await uow.matches.get(match_id, lock=True)
    if match is None:
        raise domain.NotFound("offer not found")
    request = await uow.requests.get(match.request_id, lock=True)
    assert request is not None
    return match, request


async def _authorise_volunteer(
    uow: UnitOfWork,
    match: Match,
    action: domain.Action,
    credential: OfferCredential,
    link_secret: str,
    now: datetime,
) -> None:
    if isinstance(credential, LinkToken):
        if not domain.link_is_valid(link_secret, credential.token, match.id, action, now):
            raise domain.Unauthorised("this link is not valid for this offer")
        return
    if isinstance(credential, ManageToken):
        volunteer = await uow.volunteers.get(match.volunteer_id)
        if volunteer is None or not domain.secret_matches(
            credential.token, volunteer.manage_token_hash
        ):
            # Another volunteer's offer looks exactly like a missing one.
            raise domain.NotFound("offer not found")
        return
    if isinstance(credential, SignedIn):
        if credential.volunteer_id != match.volunteer_id:
            raise domain.NotFound("offer not found")
        return
    raise domain.Unauthorised("a signed link token or the volunteer's manage token is needed")


async def respond(
    uow: UnitOfWork,
    match_id: uuid.UUID,
    action: domain.Action,
    credential: OfferCredential,
    *,
    link_secret: str,
) -> Match:
    """The volunteer accepts or declines an offer; a decline sends the request back to matching."""
    now = _now()
    async with uow:
        match, request = await _match_for_update(uow, match_id)
        await _authorise_volunteer(uow, match, action, credential, link_secret, now)
        domain.check_can_respond(match.status, request.status, match.respond_by, now)
        match.responded_at = now
        request.updated_at = now
        ids = offer_ids(match, request)
        if action == domain.ACCEPT:
            match.status = "accepted"
            request.status = "accepted"
            await uow.emit(events.MatchAccepted(**ids))
        else:
            match.status = "declined"
            request.status = "open"
            await uow.emit(events.MatchDeclined(**ids, reason="declined"))
        await uow.commit()
    count_offer(match.status, request.urgency)
    if match.status == "accepted":
        TIME_TO_ACCEPTANCE.labels(request.urgency).observe(
            (now - match.proposed_at).total_seconds()
        )
    return match


async def _complete(
    uow: UnitOfWork, org: Organisation, match_id: uuid.UUID, rating: int, comment: str
) -> Match:
    now = _now()
    match, request = await _match_for_update(uow, match_id)
    if request.organisation_id != org.id:
        raise domain.NotFound("match not found")
    domain.check_can_complete(match.status)
    match.status = "completed"
    match.completed_at = now
    match.rating = rating
    match.feedback = comment
    request.status = "completed"
    request.updated_at = now
    await uow.emit(events.MatchCompleted(**offer_ids(match, request), rating=rating))
    await uow.commit()
    count_offer("completed", request.urgency)
    return match


async def complete(
    uow: UnitOfWork, org: Organisation, match_id: uuid.UUID, rating: int, comment: str
) -> Match:
    """The organisation marks an accepted match done, with its feedback."""
    async with uow:
        return await _complete(uow, org, match_id, rating, comment)


async def complete_request(
    uow: UnitOfWork, org: Organisation, request_id: uuid.UUID, rating: int, comment: str
) -> Match:
    """The same, for the request's accepted match (the desk's form names the request)."""
    async with uow:
        request = await uow.requests.of_organisation(org.id, request_id)
        if request is None:
            raise domain.NotFound("request not found")
        active = await uow.matches.active_for(request.id)
        if active is None:
            raise domain.InvalidTransition("the request has no match to complete")
        return await _complete(uow, org, active.id, rating, comment)


# --- reading --------------------------------------------------------------------------------


async def offers_to(uow: UnitOfWork, volunteer_id: uuid.UUID) -> list[tuple[Match, SupportRequest]]:
    """Every offer made to this volunteer, newest first, with its request."""
    async with uow:
        return await uow.matches.to_volunteer(volunteer_id)


async def find_offer(uow: UnitOfWork, match_id: uuid.UUID) -> Offer | None:
    async with uow:
        match = await uow.matches.get(match_id)
        if match is None:
            return None
        return Offer(
            match,
            await uow.requests.get(match.request_id),
            await uow.volunteers.get(match.volunteer_id),
        )
