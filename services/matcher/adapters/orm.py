"""The matcher's read model and its own records, in the ``matcher`` schema.

Capacity and the one-active-match rule are enforced here, by conditional updates and a partial
unique index, so that they hold with any number of matcher processes.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.outbox import outbox_table

SCHEMA = "matcher"
metadata = sa.MetaData(schema=SCHEMA)

# Every event applied, so that a redelivered or duplicated one changes nothing.
processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
)

volunteers = sa.Table(
    "volunteers",
    metadata,
    sa.Column("volunteer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("profile", JSONB, nullable=False),  # the latest registered/updated snapshot
    sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),  # its occurred_at
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("active_matches", sa.Integer, nullable=False, server_default="0"),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("erased", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("active_matches >= 0", name="active_not_negative"),
    sa.Index("ix_matcher_volunteers_updated_at", "updated_at"),
)

# waiting: to be matched; proposed/accepted: holds a match; unmatched: nobody fits for now;
# closed: cancelled, completed or past its date.
RequestState = Literal["waiting", "proposed", "accepted", "unmatched", "closed"]

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("organisation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("payload", JSONB, nullable=False),  # the submitted event
    sa.Column("urgency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("excluded_volunteers", JSONB, nullable=False, server_default="[]"),
    sa.Column("unmatched_reasons", JSONB),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_matcher_requests_status", "status"),
)

matches = sa.Table(
    "matches",
    metadata,
    sa.Column("match_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("volunteer_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("breakdown", JSONB, nullable=False),
    sa.Column("reasons", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(
        "uq_matches_one_active_per_request",
        "request_id",
        unique=True,
        # ``shared.vocabulary.ACTIVE_MATCH_STATUSES``, as the migration spells it.
        postgresql_where=sa.text("status IN ('proposed', 'accepted')"),
    ),
    sa.Index("ix_matches_volunteer", "volunteer_id"),
)

outbox = outbox_table(metadata)
