"""The matcher's event consumers: each event becomes one use-case call."""

from __future__ import annotations

from collections.abc import Callable

from faststream.nats import NatsBroker

from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.usecases import Clock, utc_now
from services.matcher.usecases.read_model import apply_registry_event
from shared.consumer import Handler, subscribe
from shared.events import Event

REGISTRY_STREAM = "REGISTRY"
# One durable consumer shared by every matcher replica: each event is applied once, and every
# replica's index follows the matcher tables.
REGISTRY_DURABLE = "matcher-registry"


def subscribe_registry_events(
    broker: NatsBroker,
    new_uow: Callable[[], UnitOfWork],
    on_applied: Callable[[], None],
    clock: Clock = utc_now,
) -> Handler:
    """Apply every registry event to the read model; ``on_applied`` after each one that
    changed it (the matching round brings the index up to date first)."""

    async def on_registry_event(event: Event) -> None:
        if await apply_registry_event(new_uow(), event, clock):
            on_applied()

    subscribe(broker, "matcher", "registry.>", REGISTRY_DURABLE, on_registry_event)
    return on_registry_event
