"""Support requests: filed (once per Idempotency-Key), listed and read by their organisation,
cancelled; and the notifier's look-up of who to tell about one."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from services.registry import domain
from services.registry.adapters.orm import Match, Organisation, SupportRequest, Volunteer
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.metrics import REQUESTS_SUBMITTED, count_offer
from services.registry.usecases import audit
from services.registry.usecases.published import closed_request_ids, rounded_location
from shared import events
from shared.vocabulary import ACTIVE_MATCH_STATUSES, RequestStatus


@dataclass(frozen=True)
class Submitted:
    request: SupportRequest
    replayed: bool


@dataclass(frozen=True)
class RequestView:
    """A request with every offer made for it, oldest first."""

    request: SupportRequest
    offers: list[tuple[Match, Volunteer]]

    @property
    def active(self) -> tuple[Match, Volunteer] | None:
        return next(((m, v) for m, v in self.offers if m.status in ACTIVE_MATCH_STATUSES), None)


@dataclass(frozen=True)
class Context:
    """Who a message about a request (and perhaps one of its offers) concerns."""

    request: SupportRequest
    organisation: Organisation
    volunteer: Volunteer | None
    match: Match | None


def _submitted_event(r: SupportRequest) -> events.RequestSubmitted:
    return events.RequestSubmitted(
        request_id=r.id,
        organisation_id=r.organisation_id,
        beneficiary_locale=r.beneficiary_locale,
        languages=list(r.languages),
        skills=list(r.skills),
        location=rounded_location(r.lat, r.lon),
        remote_ok=r.remote_ok,
        windows=[events.TimeWindow(**w) for w in r.windows],
        timezone=r.timezone,
        urgency=r.urgency,
        needed_by=r.needed_by,
    )


async def _replay(
    uow: UnitOfWork, org: Organisation, key: str, body_fingerprint: str
) -> Submitted | None:
    existing = await uow.requests.by_idempotency_key(org.id, key)
    if existing is None:
        return None
    if existing.body_fingerprint != body_fingerprint:
        raise domain.Conflict("this Idempotency-Key was already used with a different body")
    return Submitted(existing, replayed=True)


async def submit_request(
    uow: UnitOfWork,
    org: Organisation,
    new: domain.NewRequest,
    body_fingerprint: str,
    idempotency_key: str | None,
) -> Submitted:
    """File the request; a retry with the same ``idempotency_key`` (and the same body, by its
    ``body_fingerprint``) answers with the request it filed."""
    now = datetime.now(UTC)
    async with uow:
        if idempotency_key and (
            found := await _replay(uow, org, idempotency_key, body_fingerprint)
        ):
            return found
        request = SupportRequest(
            id=uuid.uuid4(),
            organisation_id=org.id,
            **asdict(new),
            status="open",
            unmatched_reasons=[],
            idempotency_key=idempotency_key,
            body_fingerprint=body_fingerprint if idempotency_key else None,
            created_at=now,
            updated_at=now,
        )
        try:
            await uow.requests.add(request)
            await uow.emit(_submitted_event(request))
            await uow.commit()
        except domain.Duplicate:
            # A concurrent retry with the same key won the insert: answer as that one did.
            await uow.rollback()
            if idempotency_key and (
                found := await _replay(uow, org, idempotency_key, body_fingerprint)
            ):
                return found
            raise
    for skill in request.skills:
        REQUESTS_SUBMITTED.labels(request.urgency, skill).inc()
    return Submitted(request, replayed=False)


async def _views(uow: UnitOfWork, rows: list[SupportRequest]) -> list[RequestView]:
    offers = await uow.matches.for_requests(r.id for r in rows)
    return [RequestView(r, offers.get(r.id, [])) for r in rows]


async def list_requests(
    uow: UnitOfWork,
    org: Organisation,
    status: RequestStatus | None,
    limit: int,
    offset: int,
    *,
    shows_contacts: bool = True,
) -> tuple[list[RequestView], int]:
    """A page of the organisation's requests; ``shows_contacts`` False where the list shows no
    volunteer's email or phone (the desk's list), so that no contact view is audited."""
    async with uow:
        rows, total = await uow.requests.page(org.id, status, limit, offset)
        views = await _views(uow, rows)
        if shows_contacts:
            await _note_contacts_shown(uow, org, views)
        return views, total


async def _own_request(
    uow: UnitOfWork, org: Organisation, request_id: uuid.UUID, lock: bool = False
) -> SupportRequest:
    request = await uow.requests.of_organisation(org.id, request_id, lock=lock)
    if request is None:
        # Another organisation's request looks exactly like a missing one.
        raise domain.NotFound("request not found")
    return request


async def get_request(uow: UnitOfWork, org: Organisation, request_id: uuid.UUID) -> RequestView:
    async with uow:
        [view] = await _views(uow, [await _own_request(uow, org, request_id)])
        await _note_contacts_shown(uow, org, [view])
        return view


async def _note_contacts_shown(
    uow: UnitOfWork, org: Organisation, views: list[RequestView]
) -> None:
    """Once a volunteer accepted, the organisation sees how to reach them: each such showing
    is on the audit trail."""
    shown = [v.active[1].id for v in views if v.active and v.active[0].status == "accepted"]
    for volunteer_id in shown:
        audit.record(
            uow,
            domain.Actor("organisation", org.id),
            "volunteer.contact_viewed",
            volunteer_id,
            org.id,
        )
    if shown:
        await uow.commit()


async def cancel_request(uow: UnitOfWork, org: Organisation, request_id: uuid.UUID) -> RequestView:
    async with uow:
        request = await _own_request(uow, org, request_id, lock=True)
        domain.check_can_cancel(request.status)
        request.status = "cancelled"
        request.updated_at = datetime.now(UTC)
        match = await uow.matches.active_for(request.id)
        if match is not None:
            # An open offer is withdrawn; an accepted match is called off.
            match.status = "withdrawn" if match.status == "proposed" else "cancelled"
        await uow.emit(events.RequestCancelled(**closed_request_ids(request, match)))
        await uow.commit()
        if match is not None:
            count_offer(match.status, request.urgency)
        [view] = await _views(uow, [request])
        return view


async def request_context(
    uow: UnitOfWork, request_id: uuid.UUID, volunteer_id: uuid.UUID | None
) -> Context:
    """The request, its organisation and, when named, a volunteer (erased ones included)."""
    async with uow:
        request = await uow.requests.get(request_id)
        if request is None:
            raise domain.NotFound("request not found")
        volunteer = await uow.volunteers.get(volunteer_id) if volunteer_id else None
        return await _context(uow, request, volunteer, None)


async def _context(
    uow: UnitOfWork, request: SupportRequest, volunteer: Volunteer | None, match: Match | None
) -> Context:
    organisation = await uow.organisations.get(request.organisation_id)
    assert organisation is not None
    return Context(request, organisation, volunteer, match)


async def offer_context(uow: UnitOfWork, match_id: uuid.UUID) -> Context:
    """An offer with its request, organisation and volunteer."""
    async with uow:
        match = await uow.matches.get(match_id)
        if match is None:
            raise domain.NotFound("match not found")
        request = await uow.requests.get(match.request_id)
        assert request is not None
        volunteer = await uow.volunteers.get(match.volunteer_id)
        return await _context(uow, request, volunteer, match)
