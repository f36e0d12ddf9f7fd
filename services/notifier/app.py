"""Composition root of the notifier: settings, database, broker and the operations endpoints."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.notifier.settings import NotifierSettings
from shared.broker import make_broker
from shared.db import make_engine
from shared.worker import ops_app


def create_app(settings: NotifierSettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings.nats_url)
    return ops_app("INVOLVIM Match notifier", broker, engine)


def main() -> None:
    settings = NotifierSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.notifier_host,
        port=settings.notifier_metrics_port,
        log_level=settings.log_level.lower(),
    )
