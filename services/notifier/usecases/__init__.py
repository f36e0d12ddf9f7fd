"""What the notifier does: record the messages an event calls for, then deliver them. Each use
case takes what it works with (unit of work, contact look-up, channels, clock) as arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
