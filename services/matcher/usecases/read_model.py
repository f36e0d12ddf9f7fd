"""Registry events applied to the matcher's read model (its volunteers, requests and matches).

Each event is applied once: a redelivered or duplicated event changes nothing. Events may
arrive out of order across replicas; a cancellation whose submission is still on its way is
refused (``NotYetKnown``) and redelivered later.
"""

from __future__ import annotations

import uuid

from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.usecases import Clock, utc_now
from shared import events
from shared.vocabulary import MatchStatus


class NotYetKnown(Exception):
    """The event refers to something whose own event has not been applied yet."""


async def apply_registry_event(
    uow: UnitOfWork, event: events.Event, clock: Clock = utc_now
) -> bool:
    """Apply one registry event; False when it was applied before."""
    async with uow:
        if not await uow.processed.add(event, clock()):
            return False
        if await _apply(uow, event, clock):
            # Someone new may fit the requests nobody fitted before.
            await uow.requests.reopen_unmatched(clock())
        await uow.commit()
    return True


async def _apply(uow: UnitOfWork, event: events.Event, clock: Clock) -> bool:
    """Apply the event; True when the pool of volunteers may have gained someone."""
    now = clock()
    match event:
        case events.VolunteerRegistered() | events.VolunteerUpdated():
            await uow.volunteers.save_snapshot(event, now)
            return True
        case events.VolunteerErased():
            await uow.volunteers.erase(event.volunteer_id, now)
            return False
        case events.RequestSubmitted():
            await uow.requests.add(event, now)
            return False
        case events.RequestCancelled() | events.RequestExpired():
            if not await uow.requests.set_status(event.request_id, "closed", now):
                # Its submission is still on its way (another replica holds it): retry later.
                raise NotYetKnown(f"request {event.request_id} is not known yet")
            return await _end_active_match(uow, event.request_id, "cancelled", clock)
        case events.MatchAccepted():
            await uow.matches.accept(event.match_id, now)
            await uow.requests.set_status(event.request_id, "accepted", now)
            return False
        case events.MatchDeclined():
            freed = await _end_match(uow, event.match_id, event.reason, clock)
            if freed:
                # Back to matching, without the volunteer who said no or did not answer.
                await uow.requests.requeue_without(event.request_id, event.volunteer_id, now)
            return freed
        case events.MatchCompleted():
            await uow.requests.set_status(event.request_id, "closed", now)
            return await _end_match(uow, event.match_id, "completed", clock)
    return False


async def _end_active_match(
    uow: UnitOfWork, request_id: uuid.UUID, status: MatchStatus, clock: Clock
) -> bool:
    match_id = await uow.matches.active_for(request_id)
    return match_id is not None and await _end_match(uow, match_id, status, clock)


async def _end_match(
    uow: UnitOfWork, match_id: uuid.UUID, status: MatchStatus, clock: Clock
) -> bool:
    """Close an active match and give its volunteer the slot back; False if it was not active."""
    volunteer_id = await uow.matches.end(match_id, status, clock())
    if volunteer_id is None:
        return False
    await uow.volunteers.release_slot(volunteer_id, clock())
    return True
