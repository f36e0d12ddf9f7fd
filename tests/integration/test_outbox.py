"""The transactional outbox and its relay, against a real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from involvim.embedded import EmbeddedNats
from services.registry.adapters.orm import Organisation, outbox
from services.registry.adapters.unit_of_work import SqlUnitOfWork as UnitOfWork
from shared import events
from shared.broker import make_broker
from shared.db import make_engine, make_session_factory
from shared.outbox import OutboxRelay
from tests import jetstream
from tests.conftest import Database
from tests.integration.conftest import Registry
from tests.samples import request_body


@pytest.fixture
async def engine(clean_database: Database) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(clean_database.url)
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, table: str, where: str = "true") -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(sa.text(f"SELECT count(*) FROM registry.{table} WHERE {where}")) or 0
        )


def erased() -> events.VolunteerErased:
    return events.VolunteerErased(volunteer_id=uuid.uuid4())


async def test_a_failed_transaction_leaves_no_outbox_row_and_publishes_nothing(
    engine: AsyncEngine, clean_nats: str
) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    org = Organisation(
        id=uuid.uuid4(),
        name="N",
        email="n@example.org",
        api_key_hash="h",
        created_at=datetime.now(UTC),
    )
    with pytest.raises(RuntimeError):
        async with uow:
            uow.session.add(org)
            await uow.emit(erased())
            raise RuntimeError("the use case fails after the state change")

    # A failure at commit time (a unique key taken) also takes the event with it.
    async with uow:
        uow.session.add(
            Organisation(**{**org_fields(org), "id": uuid.uuid4(), "api_key_hash": "taken"})
        )
        await uow.commit()
    with pytest.raises(sa.exc.IntegrityError):
        async with uow:
            uow.session.add(
                Organisation(**{**org_fields(org), "id": uuid.uuid4(), "api_key_hash": "taken"})
            )
            await uow.emit(erased())
            await uow.commit()

    assert await count(engine, "outbox") == 0
    assert await count(engine, "organisations") == 1
    relay = OutboxRelay(engine, outbox, make_broker(clean_nats, "test"))
    assert await relay.publish_pending() == 0
    await relay.broker.stop()
    assert await jetstream.stream_messages(clean_nats, "REGISTRY") == []


def org_fields(org: Organisation) -> dict[str, object]:
    return {c: getattr(org, c) for c in ("name", "email", "api_key_hash", "created_at")}


async def stage(engine: AsyncEngine, how_many: int) -> list[uuid.UUID]:
    uow = UnitOfWork(make_session_factory(engine))
    ids = []
    async with uow:
        for _ in range(how_many):
            event = erased()
            ids.append(event.event_id)
            await uow.emit(event)
        await uow.commit()
    return ids


async def test_two_relays_never_deliver_a_row_twice(engine: AsyncEngine, clean_nats: str) -> None:
    staged = await stage(engine, 300)
    relays = [
        OutboxRelay(engine, outbox, make_broker(clean_nats, "test"), batch_size=25)
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    for _ in range(200):
        if await count(engine, "outbox", "published_at IS NULL") == 0:
            break
        await asyncio.sleep(0.05)
    for relay in relays:
        relay.stop()
    await asyncio.gather(*tasks)
    for relay in relays:
        await relay.broker.stop()

    messages = await jetstream.stream_messages(clean_nats, "REGISTRY")
    delivered = Counter(uuid.UUID(e["event_id"]) for _, e in messages)
    assert set(delivered) == set(staged)
    assert max(delivered.values()) == 1
    # In order: the stream holds events as they were committed.
    assert [uuid.UUID(e["event_id"]) for _, e in messages] == staged


async def test_a_relay_that_dies_before_marking_rows_causes_no_duplicate(
    engine: AsyncEngine, clean_nats: str
) -> None:
    staged = await stage(engine, 50)
    relay = OutboxRelay(engine, outbox, make_broker(clean_nats, "test"))
    assert await relay.publish_pending() == 50
    # As if the process died after JetStream acknowledged but before the commit.
    async with engine.begin() as conn:
        await conn.execute(outbox.update().values(published_at=None))
    assert await relay.publish_pending() == 50
    await relay.broker.stop()
    messages = await jetstream.stream_messages(clean_nats, "REGISTRY")
    assert sorted(uuid.UUID(e["event_id"]) for _, e in messages) == sorted(staged)


async def test_requests_accepted_while_nats_is_down_arrive_once_after_it_returns(
    start_registry: object, own_nats: EmbeddedNats
) -> None:
    registry: Registry = await start_registry(own_nats.url)  # type: ignore[operator]
    org = await registry.new_organisation()
    headers = {"Authorization": f"Bearer {org['api_key']}"}
    own_nats.stop()

    answers = await asyncio.gather(
        *(
            registry.client.post("/v1/requests", json=request_body(), headers=headers)
            for _ in range(100)
        )
    )
    assert [a.status_code for a in answers] == [201] * 100
    accepted = {a.json()["id"] for a in answers}
    assert len(accepted) == 100
    assert (await registry.client.get("/readyz")).status_code == 503

    own_nats.start()
    messages = await jetstream.wait_for_messages(own_nats.url, "REGISTRY", 100, timeout=60)
    submitted = [e for s, e in messages if s == "registry.request.submitted.v1"]
    assert Counter(e["request_id"] for e in submitted) == Counter({rid: 1 for rid in accepted})
    assert len({e["event_id"] for e in submitted}) == 100
