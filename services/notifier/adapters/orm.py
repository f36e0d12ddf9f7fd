"""The notifier's delivery records, in the ``notifier`` schema.

One row per (event, recipient, channel, kind): the unique key is what makes a redelivered or
duplicated event send nothing new. No message body is stored: it is rendered at send time.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.outbox import outbox_table

SCHEMA = "notifier"
metadata = sa.MetaData(schema=SCHEMA)

# A row's status and its meaning: ``services.notifier.domain.notification.NotificationStatus``.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),  # volunteer | organisation | beneficiary
    sa.Column("request_id", UUID(as_uuid=True)),  # None for a sign-in link
    sa.Column("match_id", UUID(as_uuid=True)),
    sa.Column("volunteer_id", UUID(as_uuid=True)),
    sa.Column("params", JSONB, nullable=False),  # codes only, e.g. reasons or outcome
    sa.Column("critical", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("locale", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("provider_message_id", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index(
        "ix_notifications_due",
        "next_attempt_at",
        postgresql_where=sa.text("status IN ('queued', 'held')"),
    ),
)

outbox = outbox_table(metadata)
