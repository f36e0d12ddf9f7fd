"""Read queries shared by several registry use cases."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.orm import Match, Volunteer


async def active_match(session: AsyncSession, request_id: uuid.UUID) -> Match | None:
    match: Match | None = await session.scalar(
        sa.select(Match).where(
            Match.request_id == request_id, Match.status.in_(domain.MATCH_ACTIVE)
        )
    )
    return match


async def offers_of(
    session: AsyncSession, request_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[Match, Volunteer]]]:
    """Every offer made for these requests, oldest first, with its volunteer."""
    rows = (
        await session.execute(
            sa.select(Match, Volunteer)
            .join(Volunteer, Volunteer.id == Match.volunteer_id)
            .where(Match.request_id.in_(request_ids))
            .order_by(Match.proposed_at)
        )
    ).all()
    found: dict[uuid.UUID, list[tuple[Match, Volunteer]]] = {}
    for match, volunteer in rows:
        found.setdefault(match.request_id, []).append((match, volunteer))
    return found
