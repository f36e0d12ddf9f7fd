"""The notifier's metrics: deliveries by outcome and messages held."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NOTIFICATIONS = Counter(
    "involvim_notifications_total",
    "Notifications by outcome (sent, failed, unknown, skipped, retry)",
    ["channel", "kind", "locale", "outcome", "reason"],
)
NOTIFICATIONS_HELD = Gauge("involvim_notifications_held", "SMS held for quiet hours")
