"""Read queries shared by several registry use cases."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.adapters.orm import Match, SupportRequest, Volunteer
from services.registry.metrics import OLDEST_UNMATCHED_CRITICAL, OPEN_REQUESTS, UNMATCHED_REQUESTS


async def active_match(session: AsyncSession, request_id: uuid.UUID) -> Match | None:
    match: Match | None = await session.scalar(
        sa.select(Match).where(
            Match.request_id == request_id, Match.status.in_(domain.MATCH_ACTIVE)
        )
    )
    return match


async def offers_to(
    session: AsyncSession, volunteer_id: uuid.UUID
) -> list[tuple[Match, SupportRequest]]:
    """Every offer made to this volunteer, newest first, with its request."""
    rows = (
        await session.execute(
            sa.select(Match, SupportRequest)
            .join(SupportRequest, SupportRequest.id == Match.request_id)
            .where(Match.volunteer_id == volunteer_id)
            .order_by(Match.proposed_at.desc())
        )
    ).all()
    return [(match, request) for match, request in rows]


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


async def refresh_gauges(session: AsyncSession, now: datetime) -> None:
    """Open and unmatched requests for the operators' dashboards; counted, never listed."""
    rows = (
        await session.execute(
            sa.select(
                SupportRequest.status,
                SupportRequest.urgency,
                sa.func.jsonb_array_elements_text(SupportRequest.languages).label("language"),
                sa.func.count(),
            )
            .where(SupportRequest.status.in_((domain.OPEN, domain.PROPOSED, domain.UNMATCHED)))
            .group_by(sa.text("1, 2, 3"))
        )
    ).all()
    OPEN_REQUESTS.clear()
    for status in (domain.OPEN, domain.PROPOSED, domain.UNMATCHED):
        OPEN_REQUESTS.labels(status, "normal", "none").set(0)
    for status, urgency, language, count in rows:
        OPEN_REQUESTS.labels(status, urgency, language).set(count)

    reasons = (
        await session.execute(
            sa.select(
                sa.func.coalesce(SupportRequest.unmatched_reasons[0]["code"].astext, "unknown"),
                SupportRequest.urgency,
                sa.func.count(),
            )
            .where(SupportRequest.status == domain.UNMATCHED)
            .group_by(sa.text("1, 2"))
        )
    ).all()
    UNMATCHED_REQUESTS.clear()
    UNMATCHED_REQUESTS.labels("none", "normal").set(0)
    for reason, urgency, count in reasons:
        UNMATCHED_REQUESTS.labels(reason, urgency).set(count)

    oldest = await session.scalar(
        sa.select(sa.func.min(SupportRequest.created_at)).where(
            SupportRequest.status.in_((domain.OPEN, domain.UNMATCHED)),
            SupportRequest.urgency == "critical",
        )
    )
    OLDEST_UNMATCHED_CRITICAL.set((now - oldest).total_seconds() if oldest else 0.0)
