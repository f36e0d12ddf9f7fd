"""The notifier's event consumers: each event becomes one use-case call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from faststream.nats import NatsBroker

from services.notifier.adapters.unit_of_work import UnitOfWork
from services.notifier.usecases import Clock, utc_now
from services.notifier.usecases.recording import record_notifications
from shared.consumer import Handler, subscribe
from shared.events import Event

# (subject, stream, durable): one durable consumer per stream, shared by every notifier replica.
CONSUMERS: Final[tuple[tuple[str, str, str], ...]] = (
    ("matcher.>", "MATCHER", "notifier-matcher"),
    ("registry.>", "REGISTRY", "notifier-registry"),
)


def subscribe_events(
    broker: NatsBroker,
    new_uow: Callable[[], UnitOfWork],
    on_recorded: Callable[[], None],
    clock: Clock = utc_now,
) -> Handler:
    """Record the messages every matcher and registry event calls for; ``on_recorded`` after
    each event that called for any (the delivery loop then starts without waiting)."""

    async def on_event(event: Event) -> None:
        if await record_notifications(new_uow(), event, clock):
            on_recorded()

    for subject, _, durable in CONSUMERS:
        subscribe(broker, "notifier", subject, durable, on_event)
    return on_event
