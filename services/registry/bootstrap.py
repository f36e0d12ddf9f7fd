"""Composition root of the registry: settings, database, broker, outbox relay and HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.registry import lifecycle
from services.registry.adapters.orm import outbox
from services.registry.adapters.repository import refresh_gauges
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.entrypoints import api, internal
from services.registry.entrypoints.web import desk, offers, public, render, security, volunteer
from services.registry.errors import NotFound
from services.registry.metrics import HTTP_DURATION, HTTP_REQUESTS
from services.registry.settings import RegistrySettings
from shared.broker import make_broker
from shared.consumer import ConsumerObserver, subscribe
from shared.db import make_engine, make_session_factory
from shared.events import Event
from shared.outbox import OutboxRelay
from shared.worker import BrokerStarter, add_ops_routes, service_lifespan

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
    broker = make_broker(settings.nats_url, "registry")
    relay = OutboxRelay(
        engine,
        outbox,
        broker,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )

    def new_uow() -> UnitOfWork:
        return UnitOfWork(session_factory, on_commit=relay.wake)

    policy = lifecycle.OfferPolicy(
        ttl=timedelta(seconds=settings.offer_ttl_seconds),
        critical_ttl=timedelta(seconds=settings.offer_ttl_critical_seconds),
    )

    async def on_matcher_event(event: Event) -> None:
        await lifecycle.record_matcher_event(new_uow(), event, policy)

    subscribe(broker, "registry", "matcher.>", "registry-matcher", on_matcher_event)
    starter = BrokerStarter(broker)
    maintenance = MaintenanceLoop(new_uow, settings.offer_expiry_check_seconds)
    observer = ConsumerObserver(broker, [("MATCHER", "registry-matcher")])

    # NATS is joined on its own schedule: the API accepts work while NATS is down.
    lifespan = service_lifespan(broker, engine, starter, loops=[relay, maintenance, observer])

    app = FastAPI(
        title="INVOLVIM Match registry",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        exception_handlers={
            **api.EXCEPTION_HANDLERS,
            NotFound: not_found,
            RequestValidationError: bad_address,
            security.CsrfRefused: csrf_refused,
        },
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.relay = relay
    app.state.uow_factory = new_uow
    app.state.starter = starter
    app.include_router(api.router)
    app.include_router(internal.router)
    app.include_router(offers.router)
    app.include_router(public.router)
    app.include_router(volunteer.router)
    app.include_router(desk.router)
    app.mount("/static", public.static_files, name="static")
    app.middleware("http")(count_http)
    add_ops_routes(app, broker, engine, starter)
    return app


class MaintenanceLoop:
    """Every few seconds: expire unanswered offers and refresh the request gauges. Stops
    between rounds, never mid-query."""

    def __init__(self, new_uow: Callable[[], UnitOfWork], every_seconds: float) -> None:
        self.new_uow = new_uow
        self.every_seconds = every_seconds
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                expired = await lifecycle.expire_offers(self.new_uow())
                if expired:
                    log.info("expired %d offers", expired)
                past_date = await lifecycle.expire_requests(self.new_uow())
                if past_date:
                    log.info("%d requests passed their date unserved", past_date)
                uow = self.new_uow()
                async with uow:
                    await refresh_gauges(uow.session, datetime.now(UTC))
            except Exception as exc:
                log.warning("maintenance: %s: %s; retrying", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.every_seconds)


async def not_found(request: Request, exc: Exception) -> Response:
    """A page answers a missing (or someone else's) thing with a page; the API with JSON."""
    if request.url.path.startswith(WEB_PREFIXES):
        return render.page(request, "web/not_found.html", status_code=404)
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def bad_address(request: Request, exc: Exception) -> Response:
    """A page address with a malformed id or parameter leads nowhere: a page says so; the API
    answers with the field and the reason."""
    if request.url.path.startswith(WEB_PREFIXES):
        return render.page(request, "web/not_found.html", status_code=404)
    return await api.on_request_validation(request, exc)


async def csrf_refused(request: Request, exc: Exception) -> Response:
    return render.refused(request)


WEB_PREFIXES = ("/desk", "/volunteer", "/offers")


async def count_http(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Requests by route template (never the concrete path, which holds ids) and status."""
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    template = getattr(route, "path", None) or (
        "/metrics" if request.url.path.startswith("/metrics") else "other"
    )
    HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
    HTTP_DURATION.labels(request.method, template).observe(time.perf_counter() - started)
    return response


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
