"""Recording the messages an event calls for, once however often the event arrives."""

from __future__ import annotations

from services.notifier.adapters.unit_of_work import UnitOfWork
from services.notifier.domain.planning import plan
from services.notifier.usecases import Clock, utc_now
from shared.events import Event


async def record_notifications(uow: UnitOfWork, event: Event, clock: Clock = utc_now) -> bool:
    """Record one row per (event, recipient, channel, kind) that ``event`` calls for; a
    redelivered event records nothing new. True if the event calls for any message."""
    planned = plan(event)
    if not planned:
        return False
    async with uow:
        await uow.notifications.add(event.event_id, planned, clock())
        await uow.commit()
    return True
