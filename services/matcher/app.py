"""Composition root of the matcher: settings, database, broker and the operations endpoints."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.matcher.settings import MatcherSettings
from shared.broker import make_broker
from shared.db import make_engine
from shared.worker import ops_app


def create_app(settings: MatcherSettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings.nats_url)
    return ops_app("INVOLVIM Match matcher", broker, engine)


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
