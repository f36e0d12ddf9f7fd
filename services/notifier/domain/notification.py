"""A planned message on its way: its record, the states it passes through, and the event that
tells the other services how it ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

from shared import events
from shared.vocabulary import Channel, NotificationKind

# queued -> sending -> sent; or failed (permanent, or out of attempts); unknown (the provider
# may or may not have sent it: for review, never resent blindly); held (quiet hours);
# skipped (nothing to send on this channel, or the offer is no longer open).
NotificationStatus = Literal["queued", "sending", "sent", "failed", "unknown", "held", "skipped"]
# Waiting for their time to come.
DUE_STATUSES: Final[tuple[NotificationStatus, ...]] = ("queued", "held")

# Why a notification.failed event was published.
FailureReason = Literal["permanent", "out of attempts", "unknown outcome"]

# Who a message is for.
Audience = Literal["volunteer", "organisation", "beneficiary"]


@dataclass(frozen=True)
class Notification:
    """One message to one recipient on one channel, as recorded; its words are rendered at send
    time, from the recipient's details as they are then."""

    id: uuid.UUID
    source_event_id: uuid.UUID
    kind: NotificationKind
    channel: Channel
    recipient: Audience
    request_id: uuid.UUID | None  # None for a sign-in link
    match_id: uuid.UUID | None
    volunteer_id: uuid.UUID | None
    params: dict[str, Any]  # codes only, e.g. reasons or outcome
    critical: bool
    attempts: int


def outcome_event(
    notification: Notification,
    locale: str | None,
    reason: FailureReason | None,
    provider_id: str | None = None,
) -> events.NotificationOutcome:
    """``notification.sent`` when ``reason`` is None, else ``notification.failed``."""
    common: dict[str, Any] = {
        "notification_id": notification.id,
        "source_event_id": notification.source_event_id,
        "kind": notification.kind,
        "channel": notification.channel,
        "locale": locale or "",
    }
    if reason is None:
        return events.NotificationSent(**common, provider_message_id=provider_id)
    return events.NotificationFailed(**common, reason=reason)
