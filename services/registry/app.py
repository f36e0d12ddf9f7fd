"""Composition root of the registry: settings, database, broker, outbox relay and HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from services.registry import api
from services.registry.orm import outbox
from services.registry.settings import RegistrySettings
from services.registry.unit_of_work import UnitOfWork
from shared.broker import make_broker
from shared.db import make_engine, make_session_factory
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)

DESCRIPTION = """
The registry is the system of record of INVOLVIM Match: organisations submit support requests,
volunteers register what they can offer, and every change is published as an event.

* Organisations: `Authorization: Bearer <api_key>` (created by an operator).
* Volunteers: `Authorization: Bearer <manage_token>` (returned once at registration).
* Refusals are `422` with `{"detail": [{"field": ..., "reason": ...}]}`.
"""


def create_app(settings: RegistrySettings) -> FastAPI:
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    broker = make_broker(settings.nats_url)
    relay = OutboxRelay(
        engine,
        outbox,
        broker,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The relay connects to NATS on its own schedule: the API accepts work while NATS is down.
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        try:
            yield
        finally:
            relay.stop()
            try:
                await asyncio.wait_for(relay_task, timeout=10)
            except TimeoutError:
                log.warning("outbox relay did not stop in time")
            with contextlib.suppress(Exception):
                await broker.stop()
            await engine.dispose()

    app = FastAPI(
        title="INVOLVIM Match registry",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        exception_handlers=api.EXCEPTION_HANDLERS,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.relay = relay
    app.state.uow_factory = lambda: UnitOfWork(session_factory, on_commit=relay.wake)
    app.include_router(api.router)
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = {"database": False, "nats": False}
        with contextlib.suppress(Exception):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["nats"] = bool(broker.connection.is_connected)
        ok = all(checks.values())
        return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)

    return app


def main() -> None:
    settings = RegistrySettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.registry_host,
        port=settings.registry_port,
        log_level=settings.log_level.lower(),
    )
