"""Composition root of the matcher: settings, database, broker, consumers, matching loop."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.matcher.adapters.orm import outbox
from services.matcher.service import Matcher
from services.matcher.settings import MatcherSettings
from shared.broker import make_broker
from shared.consumer import ConsumerObserver, subscribe
from shared.db import make_engine
from shared.outbox import OutboxRelay
from shared.worker import ops_app

# One durable consumer shared by every matcher replica: each event is applied once, and every
# replica's index follows the matcher tables.
DURABLE = "matcher-registry"


def create_app(settings: MatcherSettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings.nats_url, "matcher")
    relay = OutboxRelay(
        engine,
        outbox,
        broker,
        service="matcher",
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
    matcher = Matcher(
        engine,
        weights=settings.weights(),
        batch_size=settings.matcher_batch_size,
        batch_window_seconds=settings.matcher_batch_window_ms / 1000,
        idle_poll_seconds=settings.matcher_idle_poll_seconds,
        on_commit=relay.wake,
    )
    subscribe(broker, "matcher", "registry.>", DURABLE, matcher.handle)
    observer = ConsumerObserver(broker, [("REGISTRY", DURABLE)])

    app = ops_app("INVOLVIM Match matcher", broker, engine, loops=[matcher, relay, observer])
    app.state.matcher = matcher
    return app


def main() -> None:
    settings = MatcherSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.matcher_host,
        port=settings.matcher_metrics_port,
        log_level=settings.log_level.lower(),
    )
