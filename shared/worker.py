"""Common shell of the event-driven services (matcher, notifier): a small HTTP app serving
``/healthz``, ``/readyz`` and ``/metrics``, with the broker started in the background.

The broker is started with retries so that a service started while NATS is down waits for it
instead of exiting; readiness says so until its consumers are bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from prometheus_client import make_asgi_app
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker import ensure_streams
from shared.settings import ServiceSettings

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


class Loop(Protocol):
    """A background loop that finishes the work in hand and returns once asked to stop."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


Lifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]


def service_lifespan(
    broker: NatsBroker,
    engine: AsyncEngine,
    starter: BrokerStarter,
    loops: list[Loop],
    cleanup: list[Callable[[], Awaitable[None]]] | None = None,
) -> Lifespan:
    """Start the broker (with retries) and the loops; on shutdown, ask the loops to stop rather
    than cancelling them mid-query, then close the broker and the database."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(starter.run(), name="broker-start")]
        tasks += [asyncio.create_task(loop.run(), name=type(loop).__name__) for loop in loops]
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()
            tasks[0].cancel()
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                log.warning("%s did not stop in time", task.get_name())
                task.cancel()
            for close in cleanup or []:
                with contextlib.suppress(Exception):
                    await close()
            with contextlib.suppress(Exception):
                await broker.stop()
            await engine.dispose()

    return lifespan


def add_ops_routes(
    app: FastAPI, broker: NatsBroker, engine: AsyncEngine, starter: BrokerStarter
) -> None:
    """``/healthz`` (the process lives), ``/readyz`` (database, NATS, consumers), ``/metrics``."""
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
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


def ops_app(
    title: str,
    broker: NatsBroker,
    engine: AsyncEngine,
    loops: list[Loop],
    cleanup: list[Callable[[], Awaitable[None]]] | None = None,
) -> FastAPI:
    """The whole HTTP side of an event-driven service: operations endpoints only."""
    starter = BrokerStarter(broker)
    lifespan = service_lifespan(broker, engine, starter, loops, cleanup)
    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)
    add_ops_routes(app, broker, engine, starter)
    return app


Settings = TypeVar("Settings", bound=ServiceSettings)


def serve(
    create_app: Callable[[Settings], FastAPI], settings: Settings, host: str, port: int
) -> None:
    """A service's ``main``: logging as the settings say, then its app under uvicorn."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())
