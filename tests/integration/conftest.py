from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.registry.bootstrap import create_app
from services.registry.settings import RegistrySettings
from tests.conftest import Database
from tests.samples import ADMIN_KEY, SECRET


@dataclass
class Registry:
    """A registry app running in this process (lifespan, relay and all) with a client."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: RegistrySettings

    async def new_organisation(self, name: str = "Płock Family Foundation") -> dict[str, Any]:
        response = await self.client.post(
            "/v1/organisations",
            json={"name": name, "email": "desk@example.org"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def registry_settings(database_url: str, nats_url: str) -> RegistrySettings:
    return RegistrySettings(
        _env_file=None,
        database_url=database_url,
        nats_url=nats_url,
        admin_api_key=ADMIN_KEY,
        service_token=SECRET,
        link_secret=SECRET,
        outbox_poll_seconds=0.05,
    )


RegistryFactory = Callable[[str], Any]


class Lifespans:
    """Apps running in this process, each inside its lifespan (relay, consumers, loops) as a
    server runs it, entered and left in one task; ``stop_all`` stops them, last first."""

    def __init__(self) -> None:
        self._running: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    async def start(self, app: FastAPI) -> FastAPI:
        started, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with app.router.lifespan_context(app):
                started.set()
                await stop.wait()

        task = asyncio.create_task(serve())
        await asyncio.wait_for(started.wait(), 30)
        self._running.append((task, stop))
        return app

    async def stop_all(self) -> None:
        for task, stop in reversed(self._running):
            stop.set()
            await asyncio.wait_for(task, 30)
        self._running.clear()


@pytest.fixture
async def start_registry(clean_database: Database) -> AsyncIterator[Callable[..., Any]]:
    """Start registries against a given NATS URL; all are stopped when the test ends."""
    lifespans = Lifespans()
    clients: list[httpx.AsyncClient] = []

    async def start(nats_url: str) -> Registry:
        settings = registry_settings(clean_database.url, nats_url)
        app = await lifespans.start(create_app(settings))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://registry.test"
        )
        clients.append(client)
        return Registry(app, client, settings)

    yield start
    for client in clients:
        await client.aclose()
    await lifespans.stop_all()


@pytest.fixture
async def registry(start_registry: Callable[..., Any], clean_nats: str) -> Registry:
    registry: Registry = await start_registry(clean_nats)
    return registry
