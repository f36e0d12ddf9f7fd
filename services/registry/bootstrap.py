"""Composition root of the registry: settings, database, broker, outbox relay, the matcher's
events, housekeeping and the HTTP app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.registry.adapters.orm import outbox
from services.registry.adapters.unit_of_work import SqlUnitOfWork, UnitOfWork
from services.registry.entrypoints import api, consumer, errors, internal, middleware
from services.registry.entrypoints.web import desk, offers, public, volunteer
from services.registry.settings import RegistrySettings
from services.registry.usecases import maintenance
from services.registry.usecases.offers import OfferPolicy
from shared.broker import make_broker
from shared.consumer import ConsumerObserver
from shared.db import make_engine, make_session_factory
from shared.loop import every
from shared.outbox import relay_for
from shared.worker import BrokerStarter, add_ops_routes, serve, service_lifespan

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
    relay = relay_for(engine, outbox, broker, settings)

    def new_uow() -> UnitOfWork:
        return SqlUnitOfWork(session_factory, on_commit=relay.wake)

    policy = OfferPolicy(
        ttl=timedelta(seconds=settings.offer_ttl_seconds),
        critical_ttl=timedelta(seconds=settings.offer_ttl_critical_seconds),
    )
    consumer.subscribe_to_matcher(broker, new_uow, policy)
    starter = BrokerStarter(broker)

    audit_retention = timedelta(days=settings.audit_retention_days)

    async def tidy() -> None:
        await maintenance.tidy(new_uow(), audit_retention)

    # Expires unanswered offers and past-date requests and refreshes the request gauges.
    housekeeping = every("registry maintenance", settings.offer_expiry_check_seconds, tidy)
    observer = ConsumerObserver(broker, consumer.DURABLES)

    # NATS is joined on its own schedule: the API accepts work while NATS is down.
    lifespan = service_lifespan(broker, engine, starter, loops=[relay, housekeeping, observer])

    app = FastAPI(
        title="INVOLVIM Match registry",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        exception_handlers=errors.exception_handlers(settings),
    )
    # Handed to routes and pages by entrypoints.dependencies; the relay, to watch the outbox.
    app.state.settings = settings
    app.state.uow_factory = new_uow
    app.state.relay = relay
    app.include_router(api.router)
    app.include_router(internal.router)
    app.include_router(offers.router)
    app.include_router(public.router)
    app.include_router(volunteer.router)
    app.include_router(desk.router)
    app.mount("/static", public.static_files, name="static")
    app.middleware("http")(middleware.count_http)
    add_ops_routes(app, broker, engine, starter)
    return app


def main() -> None:
    settings = RegistrySettings()
    serve(create_app, settings, settings.registry_host, settings.registry_port)
