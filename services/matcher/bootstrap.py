"""Composition root of the matcher: settings, database, broker, outbox relay, the registry
consumer, the matching loop and the operations app."""

from __future__ import annotations

from fastapi import FastAPI

from services.matcher.adapters.orm import outbox
from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.domain.index import VolunteerIndex
from services.matcher.entrypoints.consumers import (
    REGISTRY_DURABLE,
    REGISTRY_STREAM,
    subscribe_registry_events,
)
from services.matcher.settings import MatcherSettings
from services.matcher.usecases.index_sync import IndexSync
from services.matcher.usecases.matching import MatchingRound
from shared.broker import make_broker
from shared.consumer import ConsumerObserver
from shared.db import make_engine
from shared.loop import WorkLoop
from shared.outbox import relay_for
from shared.worker import ops_app, serve

# How often the volunteer pool gauges are refreshed.
OBSERVE_SECONDS = 5.0


def create_app(settings: MatcherSettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings.nats_url, "matcher")
    relay = relay_for(engine, outbox, broker, settings)

    def new_uow() -> UnitOfWork:
        return UnitOfWork(engine, on_commit=relay.wake)

    matching = MatchingRound(
        new_uow,
        IndexSync(VolunteerIndex(), new_uow),
        weights=settings.weights(),
        batch_size=settings.matcher_batch_size,
    )
    # Match whenever something changed (or every few seconds), in micro-batches: a burst of
    # arrivals gathers for the batch window before a round starts.
    matching_loop = WorkLoop(
        "matching",
        matching.work,
        idle_seconds=settings.matcher_idle_poll_seconds,
        settle_seconds=settings.matcher_batch_window_ms / 1000,
        observe=matching.observe_volunteers,
        observe_seconds=OBSERVE_SECONDS,
        start=matching.warm_up,
    )
    subscribe_registry_events(broker, new_uow, on_applied=matching_loop.wake)
    observer = ConsumerObserver(broker, [(REGISTRY_STREAM, REGISTRY_DURABLE)])
    return ops_app("INVOLVIM Match matcher", broker, engine, loops=[matching_loop, relay, observer])


def main() -> None:
    settings = MatcherSettings()
    serve(create_app, settings, settings.matcher_host, settings.matcher_metrics_port)
