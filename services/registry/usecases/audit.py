"""The audit trail: who did what to which record, written in the same transaction as the act,
read by the organisation it concerns and by the operator, forgotten after the retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.registry import domain
from services.registry.adapters.orm import AuditEntry
from services.registry.adapters.unit_of_work import UnitOfWork


def record(
    uow: UnitOfWork,
    actor: domain.Actor,
    action: domain.AuditAction,
    object_id: uuid.UUID | None,
    organisation_id: uuid.UUID | None = None,
) -> None:
    """Add an entry to the open transaction: it commits, or is undone, with the act."""
    uow.audit.add(
        AuditEntry(
            at=datetime.now(UTC),
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            object_id=object_id,
            organisation_id=organisation_id,
        )
    )


async def read(
    uow: UnitOfWork, organisation_id: uuid.UUID | None, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """An organisation's trail (``organisation_id``) or, for the operator (None), everyone's;
    newest first, ``limit`` entries older than ``before_id``."""
    async with uow:
        return await uow.audit.page(organisation_id, before_id, limit)


async def forget_old(uow: UnitOfWork, retention: timedelta) -> int:
    """Entries older than the retention are deleted; how many."""
    async with uow:
        forgotten = await uow.audit.forget_before(datetime.now(UTC) - retention)
        await uow.commit()
    return forgotten
