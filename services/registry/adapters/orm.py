"""The registry's tables, all in its own PostgreSQL schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.outbox import outbox_table
from shared.vocabulary import MatchStatus, RequestStatus, Urgency

SCHEMA = "registry"


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str] = mapped_column(sa.Text)
    # The language the organisation's desk is written to in.
    locale: Mapped[str] = mapped_column(sa.Text, server_default="en")
    api_key_hash: Mapped[str] = mapped_column(sa.Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Volunteer(Base):
    __tablename__ = "volunteers"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Personal data: emptied by erasure.
    name: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.Text)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # What matching needs.
    locale: Mapped[str] = mapped_column(sa.Text)
    languages: Mapped[list[Any]]
    skills: Mapped[list[Any]]
    max_travel_km: Mapped[float]
    remote_ok: Mapped[bool]
    availability: Mapped[list[Any]]
    timezone: Mapped[str] = mapped_column(sa.Text)
    capacity: Mapped[int]
    channels: Mapped[list[Any]]
    consent: Mapped[bool]
    paused: Mapped[bool] = mapped_column(default=False)
    manage_token_hash: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SupportRequest(Base):
    __tablename__ = "requests"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "idempotency_key", name="uq_requests_idempotency"),
        sa.Index("ix_requests_org_created", "organisation_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("organisations.id"))
    beneficiary_display_name: Mapped[str] = mapped_column(sa.Text)
    beneficiary_locale: Mapped[str] = mapped_column(sa.Text)
    beneficiary_email: Mapped[str | None] = mapped_column(sa.Text)
    beneficiary_phone: Mapped[str | None] = mapped_column(sa.Text)
    contact_consent: Mapped[bool]
    languages: Mapped[list[Any]]
    skills: Mapped[list[Any]]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    remote_ok: Mapped[bool]
    windows: Mapped[list[Any]]
    timezone: Mapped[str] = mapped_column(sa.Text)
    urgency: Mapped[Urgency] = mapped_column(sa.Text)
    needed_by: Mapped[date]
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[RequestStatus] = mapped_column(sa.Text, index=True)
    unmatched_reasons: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    body_fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Match(Base):
    """An offer to a volunteer and what became of it; recorded from ``matcher.match.proposed``."""

    __tablename__ = "matches"
    __table_args__ = (
        sa.Index("ix_matches_request", "request_id"),
        sa.Index(
            "ix_matches_open_offers", "respond_by", postgresql_where=sa.text("status = 'proposed'")
        ),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("volunteers.id"))
    # proposed -> accepted -> completed; or declined, expired, cancelled, withdrawn
    status: Mapped[MatchStatus] = mapped_column(sa.Text)
    score: Mapped[float]
    breakdown: Mapped[dict[str, Any]]
    reasons: Mapped[list[Any]]
    proposed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    respond_by: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    rating: Mapped[int | None]
    feedback: Mapped[str | None] = mapped_column(sa.Text)


class ProcessedEvent(Base):
    """Events from other services already applied, so that a redelivery changes nothing."""

    __tablename__ = "processed_events"
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.Text)
    processed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


outbox = outbox_table(Base.metadata)


class AuditEntry(Base):
    """Append-only: who did what to which record, and when. Ids and codes, never names,
    addresses or numbers; kept ``AUDIT_RETENTION_DAYS`` (settings)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(sa.Text)
    object_id: Mapped[uuid.UUID | None]
    # Whose trail it belongs to: that organisation's coordinators read it; the operator reads all.
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
