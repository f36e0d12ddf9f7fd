"""Registry use cases. Each takes its dependencies as arguments and runs in one unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.adapters.orm import Match, Organisation, SupportRequest, Volunteer
from services.registry.adapters.repository import active_match, offers_of, offers_to
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.entrypoints.schemas import RequestIn, VolunteerIn, VolunteerPatch
from services.registry.errors import Conflict, NotFound, Unauthorised
from services.registry.metrics import MATCH_TRANSITIONS, REQUESTS_SUBMITTED
from shared import events


def _now() -> datetime:
    return datetime.now(UTC)


# --- organisations --------------------------------------------------------------------------


async def create_organisation(
    uow: UnitOfWork, name: str, email: str, locale: str = "en"
) -> tuple[Organisation, str]:
    api_key = domain.new_secret("org")
    org = Organisation(
        id=uuid.uuid4(),
        name=name,
        email=email,
        locale=locale,
        api_key_hash=domain.hash_secret(api_key),
        created_at=_now(),
    )
    async with uow:
        uow.session.add(org)
        await uow.commit()
    return org, api_key


async def organisation_for_key(session: AsyncSession, api_key: str) -> Organisation:
    org = await session.scalar(
        sa.select(Organisation).where(Organisation.api_key_hash == domain.hash_secret(api_key))
    )
    if org is None or not domain.secret_matches(api_key, org.api_key_hash):
        raise Unauthorised("unknown organisation key")
    return org


# --- volunteers -----------------------------------------------------------------------------


def _profile_fields(data: VolunteerIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "email": str(data.email),
        "phone": data.phone,
        "locale": data.locale,
        "languages": [lang.model_dump() for lang in data.languages],
        "skills": list(data.skills),
        "lat": data.location.lat if data.location else None,
        "lon": data.location.lon if data.location else None,
        "max_travel_km": data.max_travel_km,
        "remote_ok": data.remote_ok,
        "availability": [w.model_dump() for w in data.availability],
        "timezone": data.timezone,
        "capacity": data.capacity,
        "channels": list(dict.fromkeys(data.channels)),
    }


def _profile_body(v: Volunteer) -> dict[str, Any]:
    return {
        "name": v.name,
        "email": v.email,
        "phone": v.phone,
        "locale": v.locale,
        "languages": v.languages,
        "skills": v.skills,
        "remote_ok": v.remote_ok,
        "location": {"lat": v.lat, "lon": v.lon} if v.lat is not None else None,
        "max_travel_km": v.max_travel_km,
        "availability": v.availability,
        "timezone": v.timezone,
        "capacity": v.capacity,
        "channels": v.channels,
        "consent": v.consent,
    }


def _rounded_location(lat: float | None, lon: float | None) -> events.Location | None:
    if lat is None or lon is None:
        return None
    return events.Location(lat=domain.round_coordinate(lat), lon=domain.round_coordinate(lon))


def volunteer_snapshot(
    v: Volunteer, model: type[events.VolunteerProfile]
) -> events.VolunteerProfile:
    return model(
        volunteer_id=v.id,
        locale=v.locale,
        languages=[events.LanguageLevel(**lang) for lang in v.languages],
        skills=list(v.skills),
        location=_rounded_location(v.lat, v.lon),
        max_travel_km=v.max_travel_km,
        remote_ok=v.remote_ok,
        availability=[events.TimeWindow(**w) for w in v.availability],
        timezone=v.timezone,
        capacity=v.capacity,
        paused=v.paused,
    )


async def register_volunteer(uow: UnitOfWork, data: VolunteerIn) -> tuple[Volunteer, str]:
    token = domain.new_secret("vol")
    now = _now()
    volunteer = Volunteer(
        id=uuid.uuid4(),
        **_profile_fields(data),
        consent=True,
        paused=False,
        manage_token_hash=domain.hash_secret(token),
        created_at=now,
        updated_at=now,
    )
    async with uow:
        uow.session.add(volunteer)
        await uow.emit(volunteer_snapshot(volunteer, events.VolunteerRegistered))
        await uow.commit()
    return volunteer, token


@dataclass(frozen=True)
class SignedIn:
    """A volunteer whose web session (opened through an emailed link) the pages verified."""

    volunteer_id: uuid.UUID


# The API proves ownership with the manage token, the web pages with a signed session.
VolunteerCredential = str | SignedIn


async def _own_volunteer(
    session: AsyncSession, volunteer_id: uuid.UUID, credential: VolunteerCredential
) -> Volunteer:
    if isinstance(credential, SignedIn):
        volunteer = await session.get(Volunteer, volunteer_id, with_for_update=True)
        if (
            volunteer is None
            or credential.volunteer_id != volunteer_id
            or volunteer.erased_at is not None
        ):
            raise NotFound("volunteer not found")
        return volunteer
    volunteer = await session.scalar(
        sa.select(Volunteer)
        .where(Volunteer.manage_token_hash == domain.hash_secret(credential))
        .with_for_update()
    )
    if volunteer is None or not domain.secret_matches(credential, volunteer.manage_token_hash):
        raise Unauthorised("unknown manage token")
    if volunteer.id != volunteer_id:
        raise NotFound("volunteer not found")
    return volunteer


async def get_volunteer(
    uow: UnitOfWork, volunteer_id: uuid.UUID, credential: VolunteerCredential
) -> Volunteer:
    async with uow:
        return await _own_volunteer(uow.session, volunteer_id, credential)


async def update_volunteer(
    uow: UnitOfWork, volunteer_id: uuid.UUID, credential: VolunteerCredential, patch: VolunteerPatch
) -> Volunteer:
    """Apply a partial change, check the whole profile again, emit the new snapshot."""
    changes = patch.model_dump(exclude_unset=True)
    paused = changes.pop("paused", None)
    async with uow:
        volunteer = await _own_volunteer(uow.session, volunteer_id, credential)
        merged = _profile_body(volunteer) | changes
        data = VolunteerIn.model_validate(merged)  # raises ValidationError naming the field
        for key, value in _profile_fields(data).items():
            setattr(volunteer, key, value)
        if paused is not None:
            volunteer.paused = paused
        volunteer.updated_at = _now()
        await uow.emit(volunteer_snapshot(volunteer, events.VolunteerUpdated))
        await uow.commit()
        return volunteer


async def erase_volunteer(
    uow: UnitOfWork, volunteer_id: uuid.UUID, credential: VolunteerCredential
) -> None:
    """Remove every piece of personal data; the row stays so that history keeps its ids."""
    async with uow:
        volunteer = await _own_volunteer(uow.session, volunteer_id, credential)
        volunteer.name = volunteer.email = volunteer.phone = None
        volunteer.lat = volunteer.lon = None
        volunteer.manage_token_hash = None
        volunteer.paused = True
        volunteer.erased_at = volunteer.updated_at = _now()
        await uow.emit(events.VolunteerErased(volunteer_id=volunteer.id))
        await uow.commit()


# A link to a profile opens it for this long; asking again sends a new one.
SIGN_IN_LINK_LIFETIME = timedelta(hours=1)
# At most this many profiles share one email address in the link's answer.
SIGN_IN_PROFILES_PER_ADDRESS = 3


def sign_in_event(volunteer_id: uuid.UUID, welcome: bool) -> events.VolunteerSignInRequested:
    expires_at = (_now() + SIGN_IN_LINK_LIFETIME).replace(microsecond=0)
    return events.VolunteerSignInRequested(
        volunteer_id=volunteer_id, expires_at=expires_at, welcome=welcome
    )


async def send_welcome_link(uow: UnitOfWork, volunteer_id: uuid.UUID) -> None:
    async with uow:
        await uow.emit(sign_in_event(volunteer_id, welcome=True))
        await uow.commit()


async def request_sign_in(uow: UnitOfWork, email: str) -> int:
    """Queue a link to each (not erased) profile registered with ``email``; how many. The
    caller says the same thing whatever the count, so nobody learns who is registered."""
    async with uow:
        found = (
            await uow.session.scalars(
                sa.select(Volunteer.id)
                .where(
                    sa.func.lower(Volunteer.email) == email.strip().lower(),
                    Volunteer.erased_at.is_(None),
                )
                .order_by(Volunteer.created_at.desc())
                .limit(SIGN_IN_PROFILES_PER_ADDRESS)
            )
        ).all()
        for volunteer_id in found:
            await uow.emit(sign_in_event(volunteer_id, welcome=False))
        await uow.commit()
    return len(found)


async def volunteer_offers(
    uow: UnitOfWork, volunteer_id: uuid.UUID
) -> list[tuple[Match, SupportRequest]]:
    async with uow:
        return await offers_to(uow.session, volunteer_id)


# --- support requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    request: SupportRequest
    replayed: bool


def _request_event(r: SupportRequest) -> events.RequestSubmitted:
    return events.RequestSubmitted(
        request_id=r.id,
        organisation_id=r.organisation_id,
        beneficiary_locale=r.beneficiary_locale,
        languages=list(r.languages),
        skills=list(r.skills),
        location=_rounded_location(r.lat, r.lon),
        remote_ok=r.remote_ok,
        windows=[events.TimeWindow(**w) for w in r.windows],
        timezone=r.timezone,
        urgency=r.urgency,
        needed_by=r.needed_by,
    )


async def _replay(
    session: AsyncSession, org: Organisation, key: str, body_fingerprint: str
) -> Submitted | None:
    existing = await session.scalar(
        sa.select(SupportRequest).where(
            SupportRequest.organisation_id == org.id, SupportRequest.idempotency_key == key
        )
    )
    if existing is None:
        return None
    if existing.body_fingerprint != body_fingerprint:
        raise Conflict("this Idempotency-Key was already used with a different body")
    return Submitted(existing, replayed=True)


async def submit_request(
    uow: UnitOfWork, org: Organisation, data: RequestIn, idempotency_key: str | None
) -> Submitted:
    body_fingerprint = domain.fingerprint(data.model_dump(mode="json"))
    now = _now()
    async with uow:
        if idempotency_key and (
            found := await _replay(uow.session, org, idempotency_key, body_fingerprint)
        ):
            return found
        request = SupportRequest(
            id=uuid.uuid4(),
            organisation_id=org.id,
            beneficiary_display_name=data.beneficiary.display_name,
            beneficiary_locale=data.beneficiary.locale,
            beneficiary_email=str(data.beneficiary.email) if data.beneficiary.email else None,
            beneficiary_phone=data.beneficiary.phone,
            contact_consent=data.beneficiary.contact_consent,
            languages=list(data.languages),
            skills=list(data.skills),
            lat=data.location.lat if data.location else None,
            lon=data.location.lon if data.location else None,
            remote_ok=data.remote_ok,
            windows=[w.model_dump() for w in data.windows],
            timezone=data.timezone,
            urgency=data.urgency,
            needed_by=data.needed_by,
            description=data.description,
            status=domain.OPEN,
            unmatched_reasons=[],
            idempotency_key=idempotency_key,
            body_fingerprint=body_fingerprint if idempotency_key else None,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(request)
        try:
            await uow.emit(_request_event(request))
            await uow.commit()
            for skill in request.skills:
                REQUESTS_SUBMITTED.labels(request.urgency, skill).inc()
        except IntegrityError:
            # A concurrent retry with the same key won the insert: answer as that one did.
            await uow.session.rollback()
            if idempotency_key and (
                found := await _replay(uow.session, org, idempotency_key, body_fingerprint)
            ):
                return found
            raise
    return Submitted(request, replayed=False)


@dataclass(frozen=True)
class RequestView:
    request: SupportRequest
    offers: list[tuple[Match, Volunteer]]

    @property
    def active(self) -> tuple[Match, Volunteer] | None:
        return next(((m, v) for m, v in self.offers if m.status in domain.MATCH_ACTIVE), None)


async def _views(session: AsyncSession, rows: list[SupportRequest]) -> list[RequestView]:
    offers = await offers_of(session, [r.id for r in rows])
    return [RequestView(r, offers.get(r.id, [])) for r in rows]


async def list_requests(
    uow: UnitOfWork, org: Organisation, status: str | None, limit: int, offset: int
) -> tuple[list[RequestView], int]:
    query = sa.select(SupportRequest).where(SupportRequest.organisation_id == org.id)
    if status:
        query = query.where(SupportRequest.status == status)
    async with uow:
        total = await uow.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = await uow.session.scalars(
            query.order_by(SupportRequest.created_at.desc(), SupportRequest.id)
            .limit(limit)
            .offset(offset)
        )
        return await _views(uow.session, list(rows)), int(total or 0)


async def _own_request(
    session: AsyncSession, org: Organisation, request_id: uuid.UUID, lock: bool = False
) -> SupportRequest:
    query = sa.select(SupportRequest).where(
        SupportRequest.id == request_id, SupportRequest.organisation_id == org.id
    )
    request = await session.scalar(query.with_for_update() if lock else query)
    if request is None:
        # Another organisation's request looks exactly like a missing one.
        raise NotFound("request not found")
    return request


async def get_request(uow: UnitOfWork, org: Organisation, request_id: uuid.UUID) -> RequestView:
    async with uow:
        [view] = await _views(uow.session, [await _own_request(uow.session, org, request_id)])
        return view


async def cancel_request(uow: UnitOfWork, org: Organisation, request_id: uuid.UUID) -> RequestView:
    async with uow:
        request = await _own_request(uow.session, org, request_id, lock=True)
        domain.check_can_cancel(request.status)
        request.status = domain.CANCELLED
        request.updated_at = _now()
        match = await active_match(uow.session, request.id)
        if match is not None:
            # An open offer is withdrawn; an accepted match is called off.
            match.status = "withdrawn" if match.status == "proposed" else "cancelled"
        await uow.emit(
            events.RequestCancelled(
                request_id=request.id,
                organisation_id=org.id,
                match_id=match.id if match else None,
                volunteer_id=match.volunteer_id if match else None,
            )
        )
        await uow.commit()
        if match is not None:
            MATCH_TRANSITIONS.labels(match.status, request.urgency).inc()
        [view] = await _views(uow.session, [request])
        return view
