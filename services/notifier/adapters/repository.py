"""Every SQL statement of the notifier, over the connection of one unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.adapters.orm import notifications
from services.notifier.domain.notification import DUE_STATUSES, Notification, NotificationStatus
from services.notifier.domain.planning import Planned
from shared.vocabulary import Channel

# Enough of a provider's error to act on; the rest is noise in a table.
MAX_ERROR_LENGTH = 500
_NOTIFICATION_FIELDS = tuple(field.name for field in fields(Notification))


def _notification(row: Any) -> Notification:
    return Notification(**{name: getattr(row, name) for name in _NOTIFICATION_FIELDS})


def _stuck(channel: Channel, stuck_before: datetime) -> sa.Update:
    """Rows on ``channel`` left in 'sending' since before ``stuck_before``."""
    return notifications.update().where(
        notifications.c.status == "sending",
        notifications.c.updated_at < stuck_before,
        notifications.c.channel == channel,
    )


class Notifications:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def add(self, event_id: uuid.UUID, planned: Sequence[Planned], now: datetime) -> None:
        """Record what an event calls for; a row already recorded for the same (event,
        recipient, channel, kind) stays as it is, so a redelivered event adds nothing."""
        rows = [
            {
                "id": uuid.uuid4(),
                "key": p.key(event_id),
                "source_event_id": event_id,
                "kind": p.kind,
                "channel": p.channel,
                "recipient": p.recipient,
                "request_id": p.request_id,
                "match_id": p.match_id,
                "volunteer_id": p.volunteer_id,
                "params": p.params,
                "critical": p.critical,
                "status": "queued",
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for p in planned
        ]
        await self.connection.execute(
            insert(notifications).values(rows).on_conflict_do_nothing(index_elements=["key"])
        )

    async def requeue_stuck(self, channel: Channel, stuck_before: datetime, now: datetime) -> None:
        """Queue again what has been 'sending' on ``channel`` since before ``stuck_before``."""
        await self.connection.execute(
            _stuck(channel, stuck_before).values(
                status="queued", next_attempt_at=now, updated_at=now
            )
        )

    async def give_up_stuck(
        self, channel: Channel, stuck_before: datetime, error: str, now: datetime
    ) -> list[Notification]:
        """Mark 'unknown' what has been 'sending' on ``channel`` since before ``stuck_before``."""
        rows = (
            await self.connection.execute(
                _stuck(channel, stuck_before)
                .values(status="unknown", last_error=error, updated_at=now)
                .returning(notifications)
            )
        ).all()
        return [_notification(row) for row in rows]

    async def claim_due(self, now: datetime, limit: int) -> list[Notification]:
        """Take up to ``limit`` due rows, critical first, and mark them 'sending'. Rows another
        process holds are skipped, so two processes never send the same row."""
        due = (
            sa.select(notifications.c.id)
            .where(
                notifications.c.status.in_(DUE_STATUSES),
                notifications.c.next_attempt_at <= now,
            )
            .order_by(notifications.c.critical.desc(), notifications.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (
            await self.connection.execute(
                notifications.update()
                .where(notifications.c.id.in_(due.scalar_subquery()))
                .values(status="sending", updated_at=now)
                .returning(notifications)
            )
        ).all()
        return [_notification(row) for row in rows]

    async def hold(self, id: uuid.UUID, until: datetime, reason: str, now: datetime) -> None:
        await self.connection.execute(
            notifications.update()
            .where(notifications.c.id == id)
            .values(status="held", next_attempt_at=until, last_error=reason, updated_at=now)
        )

    async def retry_later(
        self, id: uuid.UUID, attempts: int, at: datetime, error: str, now: datetime
    ) -> None:
        await self.connection.execute(
            notifications.update()
            .where(notifications.c.id == id)
            .values(
                status="queued",
                attempts=attempts,
                next_attempt_at=at,
                last_error=error[:MAX_ERROR_LENGTH],
                updated_at=now,
            )
        )

    async def finish(
        self,
        id: uuid.UUID,
        status: NotificationStatus,
        locale: str | None,
        attempts: int,
        provider_id: str | None,
        error: str | None,
        now: datetime,
    ) -> None:
        await self.connection.execute(
            notifications.update()
            .where(notifications.c.id == id)
            .values(
                status=status,
                locale=locale,
                attempts=attempts,
                provider_message_id=provider_id,
                last_error=error[:MAX_ERROR_LENGTH] if error else None,
                sent_at=now if status == "sent" else None,
                updated_at=now,
            )
        )

    async def count_held(self) -> int:
        held = await self.connection.scalar(
            sa.select(sa.func.count()).where(notifications.c.status == "held")
        )
        return int(held or 0)
