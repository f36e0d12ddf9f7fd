"""Common shell of the event-driven services (matcher, notifier): a small HTTP app serving
``/healthz``, ``/readyz`` and ``/metrics``, with the broker started in the background.

The broker is started with retries so that a service started while NATS is down waits for it
instead of exiting; readiness says so until its consumers are bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from prometheus_client import make_asgi_app
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker import ensure_streams

log = logging.getLogger(__name__)


class BrokerStarter:
    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker
        self.bound = False

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.connect()
                await ensure_streams(self.broker.connection.jetstream())
                await self.broker.start()
                self.bound = True
                return
            except Exception as exc:
                log.warning("broker start failed (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def ops_app(
    title: str,
    broker: NatsBroker,
    engine: AsyncEngine,
    background: list[Callable[[], Coroutine[Any, Any, None]]] | None = None,
    on_stop: list[Callable[[], Awaitable[None]]] | None = None,
) -> FastAPI:
    starter = BrokerStarter(broker)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(starter.run(), name="broker-start")]
        tasks += [asyncio.create_task(job()) for job in background or []]
        try:
            yield
        finally:
            # Ask the loops to finish what they hold, rather than cancelling them mid-query.
            for stop in on_stop or []:
                await stop()
            tasks[0].cancel()
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                log.warning("%s did not stop in time", task.get_name())
                task.cancel()
            with contextlib.suppress(Exception):
                await broker.stop()
            await engine.dispose()

    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = {"database": False, "nats": False, "consumers": starter.bound}
        with contextlib.suppress(Exception):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["nats"] = bool(broker.connection.is_connected)
        ok = all(checks.values())
        return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)

    return app
