"""Every SQL statement of the matcher, run on the connection of the caller's unit of work.

The ``matcher`` tables are the truth; the in-memory index is a cache of them. Capacity and the
one-active-match rule are enforced here, by conditional updates (and a partial unique index),
not by the index, so that they hold with any number of matcher processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.matcher.adapters.orm import (
    RequestState,
    matches,
    processed_events,
    requests,
    volunteers,
)
from services.matcher.domain import model
from shared import events
from shared.vocabulary import ACTIVE_MATCH_STATUSES, URGENCIES, MatchStatus, Urgency

# Most urgent first (the vocabulary lists urgencies least urgent first).
URGENCY_RANK = {urgency: rank for rank, urgency in enumerate(reversed(URGENCIES))}
ACTIVE = tuple(sorted(ACTIVE_MATCH_STATUSES))


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _windows(items: Iterable[dict[str, str]]) -> tuple[model.WeeklyWindow, ...]:
    return tuple(
        model.WeeklyWindow(day=w["day"], start=_clock(w["start"]), end=_clock(w["end"]))  # type: ignore[arg-type]
        for w in items
    )


def _lat_lon(event: dict[str, Any]) -> tuple[float | None, float | None]:
    """An event's ``location`` as (lat, lon); (None, None) when it gives none."""
    location = event.get("location")
    return (location["lat"], location["lon"]) if location else (None, None)


def volunteer_from_row(row: Any) -> model.Volunteer:
    """The volunteer of a ``volunteers`` row (its profile is the latest snapshot event)."""
    profile = row.profile
    lat, lon = _lat_lon(profile)
    return model.Volunteer(
        volunteer_id=row.volunteer_id,
        locale=profile["locale"],
        languages=tuple(
            model.LanguageLevel(lang["code"], lang["level"]) for lang in profile["languages"]
        ),
        skills=frozenset(profile["skills"]),
        lat=lat,
        lon=lon,
        max_travel_km=float(profile["max_travel_km"]),
        remote_ok=bool(profile["remote_ok"]),
        availability=_windows(profile["availability"]),
        timezone=profile["timezone"],
        capacity=row.capacity,
        active_matches=row.active_matches,
        paused=row.paused,
    )


def request_from_row(row: Any) -> model.Request:
    """The request of a ``requests`` row (its payload is the submitted event)."""
    payload = row.payload
    lat, lon = _lat_lon(payload)
    return model.Request(
        request_id=row.request_id,
        beneficiary_locale=payload["beneficiary_locale"],
        languages=tuple(payload["languages"]),
        skills=frozenset(payload["skills"]),
        lat=lat,
        lon=lon,
        remote_ok=bool(payload["remote_ok"]),
        windows=_windows(payload["windows"]),
        timezone=payload["timezone"],
        urgency=payload["urgency"],
        needed_by=date.fromisoformat(payload["needed_by"]),
        submitted_at=row.submitted_at,
        excluded_volunteers=frozenset(uuid.UUID(v) for v in row.excluded_volunteers),
    )


@dataclass(frozen=True)
class WaitingRequest:
    """A request taken for matching, with what its outcome events need."""

    request: model.Request
    organisation_id: uuid.UUID
    urgency: Urgency
    unmatched_reasons: list[dict[str, Any]] | None  # as last reported, if unmatched before


@dataclass(frozen=True)
class VolunteerCounts:
    available: int
    paused: int
    erased: int
    active_matches: int
    capacity: int  # of the available volunteers


class ProcessedEvents:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: events.Event, at: datetime) -> bool:
        """Record the event as applied; False if it was applied before."""
        first_time = (
            await self._conn.execute(
                insert(processed_events)
                .values(event_id=event.event_id, subject=event.subject, processed_at=at)
                .on_conflict_do_nothing()
                .returning(processed_events.c.event_id)
            )
        ).first()
        return first_time is not None


class Volunteers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def all(self) -> Sequence[Any]:
        return (await self._conn.execute(sa.select(volunteers))).all()

    async def stamps_since(self, since: datetime) -> list[tuple[uuid.UUID, datetime]]:
        """Id and ``updated_at`` of the rows changed after ``since``."""
        return [
            (row.volunteer_id, row.updated_at)
            for row in await self._conn.execute(
                sa.select(volunteers.c.volunteer_id, volunteers.c.updated_at).where(
                    volunteers.c.updated_at > since
                )
            )
        ]

    async def with_ids(self, ids: list[uuid.UUID]) -> Sequence[Any]:
        wanted = sa.bindparam("ids", ids, type_=ARRAY(UUID(as_uuid=True)))
        query = sa.select(volunteers).where(volunteers.c.volunteer_id == sa.any_(wanted))
        return (await self._conn.execute(query)).all()

    async def save_snapshot(self, event: events.VolunteerProfile, now: datetime) -> None:
        """Store a registered or updated profile, unless a newer one or an erasure is stored."""
        values = {
            "profile": event.model_dump(mode="json"),
            "snapshot_at": event.occurred_at,
            "capacity": event.capacity,
            "paused": event.paused,
            "updated_at": now,
        }
        # Replicas may apply two snapshots out of order: the newer one wins, and an erased
        # volunteer stays erased.
        await self._conn.execute(
            insert(volunteers)
            .values(volunteer_id=event.volunteer_id, active_matches=0, erased=False, **values)
            .on_conflict_do_update(
                index_elements=[volunteers.c.volunteer_id],
                set_=values,
                where=sa.and_(
                    volunteers.c.snapshot_at <= event.occurred_at,
                    volunteers.c.erased.is_(False),
                ),
            )
        )

    async def erase(self, volunteer_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            volunteers.update()
            .where(volunteers.c.volunteer_id == volunteer_id)
            .values(erased=True, paused=True, profile={}, updated_at=now)
        )

    async def book_slot(self, volunteer_id: uuid.UUID, now: datetime) -> bool:
        """Take one of the volunteer's free slots; False when none is left (or they cannot be
        matched)."""
        booked = await self._conn.scalar(
            volunteers.update()
            .where(
                volunteers.c.volunteer_id == volunteer_id,
                volunteers.c.active_matches < volunteers.c.capacity,
                volunteers.c.paused.is_(False),
                volunteers.c.erased.is_(False),
            )
            .values(active_matches=volunteers.c.active_matches + 1, updated_at=now)
            .returning(volunteers.c.active_matches)
        )
        return booked is not None

    async def release_slot(self, volunteer_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            volunteers.update()
            .where(volunteers.c.volunteer_id == volunteer_id, volunteers.c.active_matches > 0)
            .values(active_matches=volunteers.c.active_matches - 1, updated_at=now)
        )

    async def counts(self) -> VolunteerCounts:
        row = (
            await self._conn.execute(
                sa.select(
                    sa.func.count().filter(~volunteers.c.erased & ~volunteers.c.paused),
                    sa.func.count().filter(~volunteers.c.erased & volunteers.c.paused),
                    sa.func.count().filter(volunteers.c.erased),
                    sa.func.coalesce(sa.func.sum(volunteers.c.active_matches), 0),
                    sa.func.coalesce(
                        sa.func.sum(volunteers.c.capacity).filter(
                            ~volunteers.c.erased & ~volunteers.c.paused
                        ),
                        0,
                    ),
                )
            )
        ).one()
        return VolunteerCounts(*row)


class Requests:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: events.RequestSubmitted, now: datetime) -> None:
        await self._conn.execute(
            insert(requests)
            .values(
                request_id=event.request_id,
                organisation_id=event.organisation_id,
                payload=event.model_dump(mode="json"),
                urgency=event.urgency,
                status="waiting",
                excluded_volunteers=[],
                submitted_at=event.occurred_at,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )

    async def set_status(self, request_id: uuid.UUID, status: RequestState, now: datetime) -> bool:
        """False if the request is not known."""
        known = await self._conn.scalar(
            requests.update()
            .where(requests.c.request_id == request_id)
            .values(status=status, updated_at=now)
            .returning(requests.c.request_id)
        )
        return known is not None

    async def requeue_without(
        self, request_id: uuid.UUID, volunteer_id: uuid.UUID, now: datetime
    ) -> None:
        """Back to matching, never again with this volunteer."""
        await self._conn.execute(
            requests.update()
            .where(requests.c.request_id == request_id)
            .values(
                status="waiting",
                excluded_volunteers=requests.c.excluded_volunteers
                + sa.func.jsonb_build_array(str(volunteer_id)),
                unmatched_reasons=None,
                updated_at=now,
            )
        )

    async def reopen_unmatched(self, now: datetime) -> None:
        await self._conn.execute(
            requests.update()
            .where(requests.c.status == "unmatched")
            .values(status="waiting", updated_at=now)
        )

    async def take_waiting(self, limit: int) -> list[WaitingRequest]:
        """Up to ``limit`` waiting requests, most urgent and oldest first, locked for this
        transaction; requests locked by another matcher process are skipped."""
        urgency_order = sa.case(URGENCY_RANK, value=requests.c.urgency, else_=9)
        rows = await self._conn.execute(
            sa.select(requests)
            .where(requests.c.status == "waiting")
            .order_by(urgency_order, requests.c.submitted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            WaitingRequest(
                request=request_from_row(row),
                organisation_id=row.organisation_id,
                urgency=row.urgency,
                unmatched_reasons=row.unmatched_reasons,
            )
            for row in rows
        ]

    async def mark_proposed(self, request_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            requests.update()
            .where(requests.c.request_id == request_id)
            .values(status="proposed", unmatched_reasons=None, updated_at=now)
        )

    async def mark_unmatched(
        self, request_id: uuid.UUID, reasons: list[dict[str, Any]], now: datetime
    ) -> None:
        await self._conn.execute(
            requests.update()
            .where(requests.c.request_id == request_id)
            .values(status="unmatched", unmatched_reasons=reasons, updated_at=now)
        )


class Matches:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: events.MatchProposed, now: datetime) -> None:
        await self._conn.execute(
            matches.insert().values(
                match_id=event.match_id,
                request_id=event.request_id,
                volunteer_id=event.volunteer_id,
                status="proposed",
                score=event.score,
                breakdown=event.breakdown,
                reasons=[r.model_dump(mode="json") for r in event.reasons],
                created_at=now,
                updated_at=now,
            )
        )

    async def accept(self, match_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            matches.update()
            .where(matches.c.match_id == match_id, matches.c.status == "proposed")
            .values(status="accepted", updated_at=now)
        )

    async def active_for(self, request_id: uuid.UUID) -> uuid.UUID | None:
        """The request's active match, if any."""
        match_id: uuid.UUID | None = await self._conn.scalar(
            sa.select(matches.c.match_id).where(
                matches.c.request_id == request_id, matches.c.status.in_(ACTIVE)
            )
        )
        return match_id

    async def end(
        self, match_id: uuid.UUID, status: MatchStatus, now: datetime
    ) -> uuid.UUID | None:
        """Close an active match; its volunteer, or None if it was not active."""
        volunteer_id: uuid.UUID | None = await self._conn.scalar(
            matches.update()
            .where(matches.c.match_id == match_id, matches.c.status.in_(ACTIVE))
            .values(status=status, updated_at=now)
            .returning(matches.c.volunteer_id)
        )
        return volunteer_id
