"""The registry's tables, all in its own PostgreSQL schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.outbox import outbox_table

SCHEMA = "registry"


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str] = mapped_column(sa.Text)
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
    urgency: Mapped[str] = mapped_column(sa.Text)
    needed_by: Mapped[date]
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, index=True)
    unmatched_reasons: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    body_fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
