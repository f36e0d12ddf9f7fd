"""Volunteers: registration, their own profile (read, changed, paused, erased) and sign-in links."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from services.registry import domain
from services.registry.adapters.orm import Volunteer
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.usecases import audit
from services.registry.usecases.published import rounded_location
from shared import events

# A link to a profile opens it for this long; asking again sends a new one.
SIGN_IN_LINK_LIFETIME = timedelta(hours=1)
# At most this many profiles share one email address in the link's answer.
SIGN_IN_PROFILES_PER_ADDRESS = 3


@dataclass(frozen=True)
class SignedIn:
    """A volunteer whose web session (opened through an emailed link) the pages verified."""

    volunteer_id: uuid.UUID


# The API proves ownership with the manage token, the web pages with a signed session.
VolunteerCredential = str | SignedIn


def _now() -> datetime:
    return datetime.now(UTC)


def volunteer_snapshot(
    v: Volunteer, model: type[events.VolunteerProfile]
) -> events.VolunteerProfile:
    return model(
        volunteer_id=v.id,
        locale=v.locale,
        languages=[events.LanguageLevel(**lang) for lang in v.languages],
        skills=list(v.skills),
        location=rounded_location(v.lat, v.lon),
        max_travel_km=v.max_travel_km,
        remote_ok=v.remote_ok,
        availability=[events.TimeWindow(**w) for w in v.availability],
        timezone=v.timezone,
        capacity=v.capacity,
        paused=v.paused,
    )


def _sign_in_event(volunteer_id: uuid.UUID, welcome: bool) -> events.VolunteerSignInRequested:
    expires_at = (_now() + SIGN_IN_LINK_LIFETIME).replace(microsecond=0)
    return events.VolunteerSignInRequested(
        volunteer_id=volunteer_id, expires_at=expires_at, welcome=welcome
    )


async def register_volunteer(
    uow: UnitOfWork, profile: domain.Profile, *, welcome: bool = False
) -> tuple[Volunteer, str]:
    """The new volunteer and their manage token (shown once). ``welcome``: also email a link
    back to the profile, as the sign-up page promises."""
    token = domain.new_secret("vol")
    now = _now()
    volunteer = Volunteer(
        id=uuid.uuid4(),
        **asdict(profile),
        consent=True,
        paused=False,
        manage_token_hash=domain.hash_secret(token),
        created_at=now,
        updated_at=now,
    )
    async with uow:
        uow.volunteers.add(volunteer)
        await uow.emit(volunteer_snapshot(volunteer, events.VolunteerRegistered))
        if welcome:
            await uow.emit(_sign_in_event(volunteer.id, welcome=True))
        await uow.commit()
    return volunteer, token


async def _own_volunteer(
    uow: UnitOfWork, volunteer_id: uuid.UUID, credential: VolunteerCredential
) -> Volunteer:
    if isinstance(credential, SignedIn):
        volunteer = await uow.volunteers.get(volunteer_id, lock=True)
        if (
            volunteer is None
            or credential.volunteer_id != volunteer_id
            or volunteer.erased_at is not None
        ):
            raise domain.NotFound("volunteer not found")
        return volunteer
    found = await uow.volunteers.by_manage_token_hash(domain.hash_secret(credential))
    if found is None or not domain.secret_matches(credential, found.manage_token_hash):
        raise domain.Unauthorised("unknown manage token")
    if found.id != volunteer_id:
        raise domain.NotFound("volunteer not found")
    return found


async def get_volunteer(
    uow: UnitOfWork, volunteer_id: uuid.UUID, credential: VolunteerCredential
) -> Volunteer:
    async with uow:
        return await _own_volunteer(uow, volunteer_id, credential)


async def find_signed_in(uow: UnitOfWork, who: SignedIn | None) -> Volunteer | None:
    """The volunteer a web session names; None without a session or once they are erased."""
    if who is None:
        return None
    try:
        return await get_volunteer(uow, who.volunteer_id, who)
    except domain.NotFound:
        return None


# Given the stored volunteer, the whole profile as it is to be: the caller merges its changes
# and checks the result against every rule (raising what names the field).
Revision = Callable[[Volunteer], domain.Profile]


async def update_volunteer(
    uow: UnitOfWork,
    volunteer_id: uuid.UUID,
    credential: VolunteerCredential,
    revise: Revision,
    paused: bool | None = None,
) -> Volunteer:
    """Apply a change checked as a whole profile, and ``paused``; emit the new snapshot."""
    async with uow:
        volunteer = await _own_volunteer(uow, volunteer_id, credential)
        for key, value in asdict(revise(volunteer)).items():
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
        volunteer = await _own_volunteer(uow, volunteer_id, credential)
        volunteer.name = volunteer.email = volunteer.phone = None
        volunteer.lat = volunteer.lon = None
        volunteer.manage_token_hash = None
        volunteer.paused = True
        volunteer.erased_at = volunteer.updated_at = _now()
        await uow.emit(events.VolunteerErased(volunteer_id=volunteer.id))
        audit.record(uow, _themselves(volunteer.id), "volunteer.erased", volunteer.id)
        await uow.commit()


async def record_download(uow: UnitOfWork, volunteer_id: uuid.UUID) -> None:
    """The volunteer took a copy of their data."""
    async with uow:
        audit.record(uow, _themselves(volunteer_id), "volunteer.data_downloaded", volunteer_id)
        await uow.commit()


def _themselves(volunteer_id: uuid.UUID) -> domain.Actor:
    return domain.Actor("volunteer", volunteer_id)


async def request_sign_in(uow: UnitOfWork, email: str) -> int:
    """Queue a link to each (not erased) profile registered with ``email``; how many. The
    caller says the same thing whatever the count, so nobody learns who is registered."""
    async with uow:
        found = await uow.volunteers.ids_by_email(
            email.strip().lower(), SIGN_IN_PROFILES_PER_ADDRESS
        )
        for volunteer_id in found:
            await uow.emit(_sign_in_event(volunteer_id, welcome=False))
        await uow.commit()
    return len(found)


async def volunteer_to_contact(uow: UnitOfWork, volunteer_id: uuid.UUID) -> Volunteer:
    """Any volunteer, erased ones included, for the notifier's look-up."""
    async with uow:
        volunteer = await uow.volunteers.get(volunteer_id)
    if volunteer is None:
        raise domain.NotFound("volunteer not found")
    return volunteer
