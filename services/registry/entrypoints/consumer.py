"""The matcher's events as the registry hears them: each is one use-case call."""

from __future__ import annotations

from collections.abc import Callable

from faststream.nats import NatsBroker

from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.usecases import offers
from shared.consumer import subscribe
from shared.events import Event

# (stream, durable consumer) of every subscription below, for the lag gauges.
DURABLES = [("MATCHER", "registry-matcher")]


def subscribe_to_matcher(
    broker: NatsBroker, new_uow: Callable[[], UnitOfWork], policy: offers.OfferPolicy
) -> None:
    """Offers proposed and requests found unmatched, recorded once each."""

    async def on_matcher_event(event: Event) -> None:
        await offers.record_matcher_event(new_uow(), event, policy)

    subscribe(broker, "registry", "matcher.>", "registry-matcher", on_matcher_event)
