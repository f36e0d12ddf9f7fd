"""Transactional outbox: events are written in the same transaction as the state change and
published afterwards by a relay, so a committed change is never lost and never published
before it is committed.

Two relays can run side by side: ``FOR UPDATE SKIP LOCKED`` gives each row to one of them, and
if a relay dies between JetStream's acknowledgement and marking the row, the row is published
again with the same ``Nats-Msg-Id`` and JetStream's duplicate window drops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from faststream.nats import NatsBroker
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.broker import ensure_streams, stream_for
from shared.events import Event
from shared.loop import WorkLoop
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Index("ix_outbox_pending", "id", postgresql_where=sa.text("published_at IS NULL")),
    )


async def add_event(session: AsyncSession | AsyncConnection, table: sa.Table, event: Event) -> None:
    """Stage ``event`` in the caller's transaction."""
    await session.execute(
        table.insert().values(
            event_id=event.event_id,
            subject=event.subject,
            payload=event.model_dump(mode="json"),
            created_at=event.occurred_at,
        )
    )


class OutboxRelay:
    """Publishes pending outbox rows to JetStream, oldest first, and marks them published."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        broker: NatsBroker,
        *,
        service: str = "",
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        publish_timeout: float = 5.0,
    ) -> None:
        self.engine = engine
        self.table = table
        self.broker = broker
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.service = service or table.schema or "unknown"
        self._streams_ready = False
        self.loop = WorkLoop(
            f"outbox relay ({self.service})",
            self._publish_round,
            idle_seconds=poll_seconds,
            observe=self.observe,
            observe_seconds=1.0,
            on_failure=self._reconnect_next_round,
        )

    def wake(self) -> None:
        """Called after a commit that added events, so they go out without waiting for a poll."""
        self.loop.wake()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published."""
        if not self._streams_ready:
            await self.broker.connect()
            await ensure_streams(self.broker.connection.jetstream())
            self._streams_ready = True
        t = self.table
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.event_id, t.c.subject, t.c.payload)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # Publishes are pipelined on one connection, so they reach the stream in row order.
            results = await asyncio.gather(
                *(self._publish(row.subject, row.event_id, row.payload) for row in rows),
                return_exceptions=True,
            )
            done = [row.id for row, result in zip(rows, results, strict=True) if result is None]
            if done:
                await conn.execute(
                    t.update().where(t.c.id.in_(done)).values(published_at=datetime.now(UTC))
                )
            failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        return len(done)

    async def _publish(self, subject: str, event_id: object, payload: dict[str, object]) -> None:
        await self.broker.publish(
            json.dumps(payload).encode(),
            subject,
            headers={"Nats-Msg-Id": str(event_id), "content-type": "application/json"},
            stream=stream_for(subject),
            timeout=self.publish_timeout,
        )

    async def observe(self) -> None:
        """Backlog and age of the oldest pending row, for the operators' dashboards."""
        t = self.table
        async with self.engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(
                        t.c.published_at.is_(None)
                    )
                )
            ).one()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

    async def pending_count(self) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).where(self.table.c.published_at.is_(None))
            )
        return int(count or 0)

    def stop(self) -> None:
        """Finish the batch in hand, then leave ``run``: cancelling mid-query would leave a
        connection half-open, and a stop must not cost a connection timeout."""
        self.loop.stop()

    async def run(self) -> None:
        """Loop until stopped. Failures (NATS or PostgreSQL down) are logged and retried."""
        await self.loop.run()

    async def _publish_round(self) -> bool:
        return await self.publish_pending() > 0

    def _reconnect_next_round(self, exc: BaseException) -> None:
        self._streams_ready = False


def relay_for(
    engine: AsyncEngine, table: sa.Table, broker: NatsBroker, settings: ServiceSettings
) -> OutboxRelay:
    """The relay of a service's outbox, paced by the service's settings."""
    return OutboxRelay(
        engine,
        table,
        broker,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
