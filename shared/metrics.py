"""Metric helpers and the metrics every service keeps the same way (outbox, consumers, dead
letters). Each service declares its own metrics in its ``metrics.py``.

Labels are bounded codes (urgency, skill, language, channel, locale, reason codes); never ids,
names or free text. Durations that span minutes to days use ``HUMAN_BUCKETS``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
HUMAN_BUCKETS = (
    10.0, 30.0, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR,
    12 * HOUR, DAY, 2 * DAY, 4 * DAY, 7 * DAY, 14 * DAY,
)  # fmt: skip

OUTBOX_BACKLOG = Gauge("involvim_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "involvim_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when empty)",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "involvim_consumer_pending_messages",
    "Messages not yet delivered to a durable consumer",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "involvim_consumer_ack_pending_messages",
    "Messages delivered but not yet acknowledged",
    ["consumer"],
)
CONSUMER_LAST_ACTIVE = Gauge(
    "involvim_consumer_last_active_timestamp_seconds",
    "When the consumer last acknowledged a message (from JetStream's ack floor)",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "involvim_dead_letters_total",
    "Messages moved to the dead-letter stream",
    ["service", "subject", "reason"],
)
