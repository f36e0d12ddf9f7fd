"""Notifier use cases: plan the messages an event calls for, then deliver them.

Planning inserts one row per (event, recipient, channel, kind) under a unique key, so a
redelivered event plans nothing new. Delivery claims due rows, commits them as ``sending``
before calling a provider, and records the outcome with its event in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.adapters.channels import (
    DeliveryError,
    Email,
    Permanent,
    Sms,
    Transient,
    Unknown,
)
from services.notifier.adapters.contacts import NotYetRecorded, RegistryContacts, UnknownVolunteer
from services.notifier.adapters.orm import notifications, outbox
from services.notifier.domain import messages, rules
from services.notifier.metrics import NOTIFICATIONS, NOTIFICATIONS_HELD
from shared import events
from shared.outbox import add_event

log = logging.getLogger(__name__)

# Rows left in 'sending' longer than this belong to a process that died mid-call.
STUCK_AFTER = timedelta(minutes=2)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 5.0
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8


class Notifier:
    def __init__(
        self,
        engine: AsyncEngine,
        contacts: RegistryContacts,
        email: Email,
        sms: Sms,
        *,
        policy: DeliveryPolicy = DeliveryPolicy(),
        concurrency: int = 10,
        poll_seconds: float = 1.0,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.contacts = contacts
        self.email = email
        self.sms = sms
        self.policy = policy
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.on_commit = on_commit
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False

    # --- planning ---------------------------------------------------------------------------

    async def handle(self, event: events.Event) -> None:
        planned = rules.plan(event)
        if not planned:
            return
        now = self.clock()
        rows = [
            {
                "id": uuid.uuid4(),
                "key": p.key(event.event_id),
                "source_event_id": event.event_id,
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
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(notifications).values(rows).on_conflict_do_nothing(index_elements=["key"])
            )
        self._wake.set()

    # --- delivery ---------------------------------------------------------------------------

    async def recover_stuck(self) -> int:
        """After a crash: an SMS whose call may have gone out is 'unknown', never resent blindly;
        an email is queued again (its stable Message-ID lets mail clients fold a duplicate)."""
        now = self.clock()
        stuck_before = now - STUCK_AFTER
        async with self.engine.begin() as conn:
            requeued = await conn.execute(
                notifications.update()
                .where(
                    notifications.c.status == "sending",
                    notifications.c.updated_at < stuck_before,
                    notifications.c.channel == rules.EMAIL,
                )
                .values(status="queued", next_attempt_at=now, updated_at=now)
            )
            unknown = (
                await conn.execute(
                    notifications.update()
                    .where(
                        notifications.c.status == "sending",
                        notifications.c.updated_at < stuck_before,
                        notifications.c.channel == rules.SMS,
                    )
                    .values(
                        status="unknown",
                        last_error="interrupted during the provider call",
                        updated_at=now,
                    )
                    .returning(notifications)
                )
            ).all()
            for row in unknown:
                await add_event(conn, outbox, self._outcome_event(row, None, "unknown outcome"))
        if unknown:
            self.on_commit()
        return int(requeued.rowcount or 0) + len(unknown)

    async def deliver_due(self) -> int:
        now = self.clock()
        due = (
            sa.select(notifications.c.id)
            .where(
                notifications.c.status.in_(("queued", "held")),
                notifications.c.next_attempt_at <= now,
            )
            .order_by(notifications.c.critical.desc(), notifications.c.next_attempt_at)
            .limit(self.concurrency)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.begin() as conn:
            # Committed as 'sending' before any provider is called.
            claimed = (
                await conn.execute(
                    notifications.update()
                    .where(notifications.c.id.in_(due.scalar_subquery()))
                    .values(status="sending", updated_at=now)
                    .returning(notifications)
                )
            ).all()
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    async def _deliver(self, row: Any) -> None:
        try:
            context = await self._look_up(row)
        except UnknownVolunteer as exc:
            await self._finish(row, "skipped", None, error=str(exc))
            return
        except NotYetRecorded as exc:
            # Sub-second retries: the registry records the same event at the same moment.
            await self._retry_or_fail(row, None, str(exc), base_seconds=0.2)
            return
        except Transient as exc:
            await self._retry_or_fail(row, None, str(exc))
            return
        to = rules.recipient(row.recipient, row.channel, context, row.kind)
        if to.address is None:
            await self._finish(row, "skipped", to.locale, error=to.skip_reason)
            return
        now = self.clock()
        if reason := rules.reason_not_to_send(row.kind, context, row.params, now):
            await self._finish(row, "skipped", to.locale, error=reason)
            return
        if row.channel == rules.SMS and not row.critical:
            until = rules.quiet_until(
                now, to.timezone, self.policy.quiet_start_hour, self.policy.quiet_end_hour
            )
            if until is not None:
                await self._hold(row, until)
                return
        template_context = rules.template_context(
            row.kind, context, row.params, short_links=row.channel == rules.SMS
        )
        rendered = messages.render(row.kind, to.locale, template_context, to.timezone)
        try:
            if row.channel == rules.EMAIL:
                message = self.email.build(
                    to.address,
                    rendered.subject,
                    rendered.text,
                    rendered.html,
                    f"<{row.id}@involvim-match>",
                    rendered.locale,
                )
                provider_id = await self.email.send(message)
            else:
                provider_id = await self.sms.send(to.address, rendered.sms)
        except Unknown as exc:
            await self._finish(
                row, "unknown", rendered.locale, error=str(exc), publish_reason="unknown outcome"
            )
        except Permanent as exc:
            await self._finish(
                row, "failed", rendered.locale, error=str(exc), publish_reason="permanent"
            )
        except (Transient, DeliveryError) as exc:
            await self._retry_or_fail(row, rendered.locale, str(exc))
        else:
            await self._finish(row, "sent", rendered.locale, provider_id=provider_id)

    async def _look_up(self, row: Any) -> dict[str, Any]:
        if row.kind == rules.SIGN_IN_LINK:
            expires_at = rules.link_expires_at(row.params)
            return await self.contacts.sign_in(row.volunteer_id, expires_at)
        return await self.contacts.look_up(row.request_id, row.match_id, row.volunteer_id)

    async def _hold(self, row: Any, until: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(
                    status="held",
                    next_attempt_at=until,
                    last_error="quiet hours",
                    updated_at=self.clock(),
                )
            )

    async def _retry_or_fail(
        self, row: Any, locale: str | None, error: str, base_seconds: float | None = None
    ) -> None:
        attempts = row.attempts + 1
        if attempts >= self.policy.max_attempts:
            await self._finish(
                row,
                "failed",
                locale,
                error=error,
                publish_reason="out of attempts",
                attempts=attempts,
            )
            return
        wait = rules.backoff(attempts, base_seconds or self.policy.backoff_seconds)
        async with self.engine.begin() as conn:
            await conn.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(
                    status="queued",
                    attempts=attempts,
                    next_attempt_at=self.clock() + wait,
                    last_error=error[:500],
                    updated_at=self.clock(),
                )
            )
        NOTIFICATIONS.labels(row.channel, row.kind, locale or "", "retry", "transient").inc()

    async def _finish(
        self,
        row: Any,
        status: str,
        locale: str | None,
        *,
        error: str | None = None,
        provider_id: str | None = None,
        publish_reason: str | None = None,
        attempts: int | None = None,
    ) -> None:
        now = self.clock()
        counted = row.attempts + (0 if status == "skipped" else 1) if attempts is None else attempts
        async with self.engine.begin() as conn:
            await conn.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(
                    status=status,
                    locale=locale,
                    attempts=counted,
                    provider_message_id=provider_id,
                    last_error=error[:500] if error else None,
                    sent_at=now if status == "sent" else None,
                    updated_at=now,
                )
            )
            if status == "sent":
                await add_event(conn, outbox, self._outcome_event(row, locale, None, provider_id))
            elif publish_reason is not None:
                await add_event(conn, outbox, self._outcome_event(row, locale, publish_reason))
        if status in ("sent", "failed", "unknown"):
            self.on_commit()
        NOTIFICATIONS.labels(
            row.channel, row.kind, locale or "", status, publish_reason or ""
        ).inc()

    @staticmethod
    def _outcome_event(
        row: Any, locale: str | None, reason: str | None, provider_id: str | None = None
    ) -> events.Event:
        common: dict[str, Any] = {
            "notification_id": row.id,
            "source_event_id": row.source_event_id,
            "kind": row.kind,
            "channel": row.channel,
            "locale": locale or "",
        }
        if reason is None:
            return events.NotificationSent(**common, provider_message_id=provider_id)
        return events.NotificationFailed(**common, reason=reason)

    # --- loop -------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def observe(self) -> None:
        async with self.engine.connect() as conn:
            held = await conn.scalar(
                sa.select(sa.func.count()).where(notifications.c.status == "held")
            )
        NOTIFICATIONS_HELD.set(held or 0)

    async def run(self) -> None:
        with contextlib.suppress(Exception):
            await self.recover_stuck()
        observed_at = 0.0
        while not self._stopping:
            self._wake.clear()
            if monotonic() - observed_at > 5:
                observed_at = monotonic()
                with contextlib.suppress(Exception):
                    await self.observe()
            try:
                claimed = await self.deliver_due()
            except Exception:
                log.exception("delivery round failed; retrying")
                claimed = 0
                await asyncio.sleep(1)
            if claimed == self.concurrency or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
