"""What happens to a request after it is submitted: offers, answers, expiry, completion.

The registry records the matcher's proposals and verdicts (idempotently, by event id), lets the
volunteer accept or decline, expires offers nobody answered, and publishes every transition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.adapters.orm import (
    Match,
    Organisation,
    ProcessedEvent,
    SupportRequest,
    Volunteer,
)
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.errors import NotFound, Unauthorised
from services.registry.metrics import MATCH_TRANSITIONS, TIME_TO_ACCEPTANCE, TIME_TO_PROPOSAL
from shared import events


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OfferPolicy:
    ttl: timedelta = timedelta(hours=48)
    critical_ttl: timedelta = timedelta(hours=4)


async def _first_time(session: AsyncSession, event: events.Event) -> bool:
    inserted = await session.execute(
        insert(ProcessedEvent)
        .values(event_id=event.event_id, subject=event.subject, processed_at=_now())
        .on_conflict_do_nothing()
        .returning(ProcessedEvent.event_id)
    )
    return inserted.first() is not None


async def record_matcher_event(uow: UnitOfWork, event: events.Event, policy: OfferPolicy) -> None:
    """Apply ``matcher.match.proposed`` / ``matcher.request.unmatched`` once."""
    async with uow:
        if not await _first_time(uow.session, event):
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
    request = await uow.session.get(SupportRequest, event.request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"request {event.request_id} is unknown")
    open_for_offers = request.status in (domain.OPEN, domain.UNMATCHED)
    first_offer = not await uow.session.scalar(
        sa.select(sa.exists().where(Match.request_id == request.id))
    )
    waited = (event.occurred_at - request.created_at).total_seconds()
    uow.session.add(
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
        request.status = domain.PROPOSED
        request.unmatched_reasons = []
        request.updated_at = _now()

    def observe() -> None:
        MATCH_TRANSITIONS.labels("proposed", event.urgency).inc()
        if first_offer:
            TIME_TO_PROPOSAL.labels(event.urgency).observe(max(waited, 0.0))

    return observe


async def _record_unmatched(uow: UnitOfWork, event: events.RequestUnmatched) -> None:
    request = await uow.session.get(SupportRequest, event.request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"request {event.request_id} is unknown")
    if request.status in (domain.OPEN, domain.UNMATCHED):
        request.status = domain.UNMATCHED
        request.unmatched_reasons = [r.model_dump(mode="json") for r in event.reasons]
        request.updated_at = _now()


# --- answers --------------------------------------------------------------------------------


async def _match_for_update(
    session: AsyncSession, match_id: uuid.UUID
) -> tuple[Match, SupportRequest]:
    match = await session.get(Match, match_id, with_for_update=True)
    if match is None:
        raise NotFound("offer not found")
    request = await session.get(SupportRequest, match.request_id, with_for_update=True)
    assert request is not None
    return match, request


async def _authorise_volunteer(
    session: AsyncSession,
    match: Match,
    action: str,
    link_secret: str,
    link_token: str | None,
    manage_token: str | None,
    now: datetime,
) -> None:
    if link_token is not None:
        if not domain.link_is_valid(link_secret, link_token, match.id, action, now):
            raise Unauthorised("this link is not valid for this offer")
        return
    if manage_token is not None:
        volunteer = await session.get(Volunteer, match.volunteer_id)
        if volunteer is None or not domain.secret_matches(
            manage_token, volunteer.manage_token_hash
        ):
            # Another volunteer's offer looks exactly like a missing one.
            raise NotFound("offer not found")
        return
    raise Unauthorised("a signed link token or the volunteer's manage token is needed")


async def respond(
    uow: UnitOfWork,
    match_id: uuid.UUID,
    action: str,
    *,
    link_secret: str,
    link_token: str | None = None,
    manage_token: str | None = None,
) -> Match:
    """The volunteer accepts or declines an offer; a decline sends the request back to matching."""
    now = _now()
    async with uow:
        match, request = await _match_for_update(uow.session, match_id)
        await _authorise_volunteer(
            uow.session, match, action, link_secret, link_token, manage_token, now
        )
        domain.check_can_respond(match.status, request.status, match.respond_by, now)
        match.responded_at = now
        request.updated_at = now
        ids = {
            "match_id": match.id,
            "request_id": request.id,
            "volunteer_id": match.volunteer_id,
            "organisation_id": request.organisation_id,
        }
        if action == domain.ACCEPT:
            match.status = "accepted"
            request.status = domain.ACCEPTED
            await uow.emit(events.MatchAccepted(**ids))
        else:
            match.status = "declined"
            request.status = domain.OPEN
            await uow.emit(events.MatchDeclined(**ids, reason="declined"))
        await uow.commit()
    MATCH_TRANSITIONS.labels(match.status, request.urgency).inc()
    if match.status == "accepted":
        TIME_TO_ACCEPTANCE.labels(request.urgency).observe(
            (now - match.proposed_at).total_seconds()
        )
    return match


async def expire_offers(uow: UnitOfWork, now: datetime | None = None, limit: int = 500) -> int:
    """Offers nobody answered in time expire; their requests go back to matching."""
    now = now or _now()
    async with uow:
        overdue = (
            await uow.session.scalars(
                sa.select(Match)
                .where(Match.status == "proposed", Match.respond_by < now)
                .order_by(Match.respond_by)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        urgencies: list[str] = []
        for match in overdue:
            request = await uow.session.get(SupportRequest, match.request_id, with_for_update=True)
            assert request is not None
            match.status = "expired"
            match.responded_at = now
            urgencies.append(request.urgency)
            if request.status == domain.PROPOSED:
                request.status = domain.OPEN
                request.updated_at = now
            await uow.emit(
                events.MatchDeclined(
                    match_id=match.id,
                    request_id=request.id,
                    volunteer_id=match.volunteer_id,
                    organisation_id=request.organisation_id,
                    reason="expired",
                )
            )
        await uow.commit()
    for urgency in urgencies:
        MATCH_TRANSITIONS.labels("expired", urgency).inc()
    return len(overdue)


async def complete(
    uow: UnitOfWork, org: Organisation, match_id: uuid.UUID, rating: int, comment: str
) -> Match:
    now = _now()
    async with uow:
        match, request = await _match_for_update(uow.session, match_id)
        if request.organisation_id != org.id:
            raise NotFound("match not found")
        domain.check_can_complete(match.status)
        match.status = "completed"
        match.completed_at = now
        match.rating = rating
        match.feedback = comment
        request.status = domain.COMPLETED
        request.updated_at = now
        await uow.emit(
            events.MatchCompleted(
                match_id=match.id,
                request_id=request.id,
                volunteer_id=match.volunteer_id,
                organisation_id=org.id,
                rating=rating,
            )
        )
        await uow.commit()
    MATCH_TRANSITIONS.labels("completed", request.urgency).inc()
    return match


def offer_history(offers: list[tuple[Match, Volunteer]]) -> list[dict[str, Any]]:
    """Who was asked, when and with what outcome: first names only, never contact details."""
    return [
        {
            "match_id": str(match.id),
            "volunteer_first_name": domain.first_name(volunteer.name),
            "proposed_at": match.proposed_at.isoformat(),
            "respond_by": match.respond_by.isoformat(),
            "outcome": match.status,
            "responded_at": match.responded_at.isoformat() if match.responded_at else None,
            "score": match.score,
        }
        for match, volunteer in offers
    ]


async def expire_requests(uow: UnitOfWork, limit: int = 500) -> int:
    """Requests whose ``needed_by`` passed in their own time zone, with nobody helping, expire;
    an open offer for one is withdrawn."""
    async with uow:
        local_today = sa.cast(sa.func.timezone(SupportRequest.timezone, sa.func.now()), sa.Date)
        overdue = (
            await uow.session.scalars(
                sa.select(SupportRequest)
                .where(
                    SupportRequest.status.in_((domain.OPEN, domain.UNMATCHED, domain.PROPOSED)),
                    SupportRequest.needed_by < local_today,
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for request in overdue:
            request.status = domain.EXPIRED
            request.updated_at = _now()
            match = await uow.session.scalar(
                sa.select(Match).where(Match.request_id == request.id, Match.status == "proposed")
            )
            if match is not None:
                match.status = "withdrawn"
            await uow.emit(
                events.RequestExpired(
                    request_id=request.id,
                    organisation_id=request.organisation_id,
                    match_id=match.id if match else None,
                    volunteer_id=match.volunteer_id if match else None,
                )
            )
        await uow.commit()
        return len(overdue)
