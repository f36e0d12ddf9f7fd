"""Delivering recorded messages: claim the due ones, look up who they go to, render, send, and
record each outcome with its event in one transaction.

A claimed row is committed as 'sending' before any provider is called. Failures are retried
with backoff up to a number of attempts; an SMS waits out the recipient's quiet hours unless it
is critical; after a crash, an SMS that may have gone out is never sent again blindly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from services.notifier.adapters.unit_of_work import UnitOfWork
from services.notifier.domain import messages
from services.notifier.domain.errors import (
    DeliveryError,
    NotYetRecorded,
    Permanent,
    Transient,
    Unknown,
    UnknownVolunteer,
)
from services.notifier.domain.notification import (
    FailureReason,
    Notification,
    NotificationStatus,
    outcome_event,
)
from services.notifier.domain.planning import link_expires_at
from services.notifier.domain.sending import (
    STUCK_AFTER,
    Contacts,
    DeliveryPolicy,
    backoff,
    quiet_until,
    reason_not_to_send,
    recipient,
)
from services.notifier.domain.template_context import template_context
from services.notifier.metrics import NOTIFICATIONS, NOTIFICATIONS_HELD
from services.notifier.usecases import Clock, utc_now
from shared.contacts import RequestContext, SignInContext

# The registry records the offer from the same event at the same moment: a look-up that came
# too early is tried again within a second, not after the usual backoff.
NOT_YET_RECORDED_BACKOFF_SECONDS = 0.2


class ContactLookUp(Protocol):
    """The registry's answers about who to tell, looked up at send time."""

    async def look_up(
        self,
        request_id: uuid.UUID | None,
        match_id: uuid.UUID | None,
        volunteer_id: uuid.UUID | None,
    ) -> RequestContext: ...

    async def sign_in(self, volunteer_id: uuid.UUID, expires_at: datetime) -> SignInContext: ...


class EmailChannel(Protocol):
    def build(
        self, to: str, subject: str, text: str, html: str, message_id: str, locale: str
    ) -> EmailMessage: ...

    async def send(self, message: EmailMessage) -> str:
        """Send and return the message id, or raise a ``DeliveryError``."""
        ...


class SmsChannel(Protocol):
    async def send(self, to: str, body: str) -> str:
        """Send and return the provider's message id, or raise a ``DeliveryError``."""
        ...


@dataclass(frozen=True)
class Delivery:
    """What delivering works with, put together at the composition root."""

    new_uow: Callable[[], UnitOfWork]
    contacts: ContactLookUp
    email: EmailChannel
    sms: SmsChannel
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    concurrency: int = 10
    clock: Clock = utc_now


async def recover_stuck(delivery: Delivery) -> None:
    """After a crash: an SMS whose call may have gone out is 'unknown', never resent blindly;
    an email is queued again (its stable Message-ID lets mail clients fold a duplicate)."""
    now = delivery.clock()
    stuck_before = now - STUCK_AFTER
    async with delivery.new_uow() as uow:
        await uow.notifications.requeue_stuck("email", stuck_before, now)
        unknown = await uow.notifications.give_up_stuck(
            "sms", stuck_before, "interrupted during the provider call", now
        )
        for notification in unknown:
            await uow.emit(outcome_event(notification, None, "unknown outcome"))
        await uow.commit()


async def deliver_due(delivery: Delivery) -> int:
    """Claim up to ``concurrency`` due messages, critical ones first, and deliver them side by
    side. Returns how many were claimed."""
    async with delivery.new_uow() as uow:
        claimed = await uow.notifications.claim_due(delivery.clock(), delivery.concurrency)
        await uow.commit()
    if claimed:
        await asyncio.gather(*(deliver(delivery, notification) for notification in claimed))
    return len(claimed)


async def deliver_round(delivery: Delivery) -> bool:
    """One round of the delivery loop: True when more may be due at once."""
    return await deliver_due(delivery) == delivery.concurrency


async def observe_held(delivery: Delivery) -> None:
    """How many SMS wait for quiet hours to end, for the operators' dashboards."""
    async with delivery.new_uow() as uow:
        NOTIFICATIONS_HELD.set(await uow.notifications.count_held())


async def deliver(delivery: Delivery, notification: Notification) -> None:
    """Deliver one claimed message, or decide not to, and record what became of it."""
    n = notification
    try:
        context = await _look_up(delivery.contacts, n)
    except UnknownVolunteer as exc:
        await _finish(delivery, n, "skipped", None, error=str(exc))
        return
    except NotYetRecorded as exc:
        await _retry_or_fail(
            delivery, n, None, str(exc), base_seconds=NOT_YET_RECORDED_BACKOFF_SECONDS
        )
        return
    except Transient as exc:
        await _retry_or_fail(delivery, n, None, str(exc))
        return
    to = recipient(n.recipient, n.channel, context, n.kind)
    if to.address is None:
        await _finish(delivery, n, "skipped", to.locale, error=to.skip_reason)
        return
    now = delivery.clock()
    if reason := reason_not_to_send(n.kind, context, n.params, now):
        await _finish(delivery, n, "skipped", to.locale, error=reason)
        return
    policy = delivery.policy
    if n.channel == "sms" and not n.critical:
        until = quiet_until(now, to.timezone, policy.quiet_start_hour, policy.quiet_end_hour)
        if until is not None:
            await _hold(delivery, n, until)
            return
    values = template_context(n.kind, context, n.params, short_links=n.channel == "sms")
    rendered = messages.render(n.kind, to.locale, values, to.timezone)
    try:
        provider_id = await _send(delivery, n, to.address, rendered)
    except Unknown as exc:
        await _finish(
            delivery, n, "unknown", rendered.locale, error=str(exc), reason="unknown outcome"
        )
    except Permanent as exc:
        await _finish(delivery, n, "failed", rendered.locale, error=str(exc), reason="permanent")
    except (Transient, DeliveryError) as exc:
        await _retry_or_fail(delivery, n, rendered.locale, str(exc))
    else:
        await _finish(delivery, n, "sent", rendered.locale, provider_id=provider_id)


async def _look_up(contacts: ContactLookUp, n: Notification) -> Contacts:
    if n.kind == "sign_in_link" and n.volunteer_id is not None:
        return await contacts.sign_in(n.volunteer_id, link_expires_at(n.params))
    return await contacts.look_up(n.request_id, n.match_id, n.volunteer_id)


async def _send(
    delivery: Delivery, n: Notification, address: str, rendered: messages.Rendered
) -> str:
    if n.channel == "email":
        message = delivery.email.build(
            address,
            rendered.subject,
            rendered.text,
            rendered.html,
            # Stable per notification: a retried send is recognisably the same message.
            f"<{n.id}@involvim-match>",
            rendered.locale,
        )
        return await delivery.email.send(message)
    return await delivery.sms.send(address, rendered.sms)


async def _hold(delivery: Delivery, n: Notification, until: datetime) -> None:
    async with delivery.new_uow() as uow:
        await uow.notifications.hold(n.id, until, "quiet hours", delivery.clock())
        await uow.commit()


async def _retry_or_fail(
    delivery: Delivery,
    n: Notification,
    locale: str | None,
    error: str,
    base_seconds: float | None = None,
) -> None:
    attempts = n.attempts + 1
    if attempts >= delivery.policy.max_attempts:
        await _finish(
            delivery,
            n,
            "failed",
            locale,
            error=error,
            reason="out of attempts",
            attempts=attempts,
        )
        return
    wait = backoff(attempts, base_seconds or delivery.policy.backoff_seconds)
    now = delivery.clock()
    async with delivery.new_uow() as uow:
        await uow.notifications.retry_later(n.id, attempts, now + wait, error, now)
        await uow.commit()
    NOTIFICATIONS.labels(n.channel, n.kind, locale or "", "retry", "transient").inc()


async def _finish(
    delivery: Delivery,
    n: Notification,
    status: NotificationStatus,
    locale: str | None,
    *,
    error: str | None = None,
    provider_id: str | None = None,
    reason: FailureReason | None = None,
    attempts: int | None = None,
) -> None:
    """Record how the message ended; a sent one, and a failure with a ``reason``, are
    published in the same transaction."""
    now = delivery.clock()
    counted = n.attempts + (0 if status == "skipped" else 1) if attempts is None else attempts
    async with delivery.new_uow() as uow:
        await uow.notifications.finish(n.id, status, locale, counted, provider_id, error, now)
        if status == "sent":
            await uow.emit(outcome_event(n, locale, None, provider_id))
        elif reason is not None:
            await uow.emit(outcome_event(n, locale, reason))
        await uow.commit()
    NOTIFICATIONS.labels(n.channel, n.kind, locale or "", status, reason or "").inc()
