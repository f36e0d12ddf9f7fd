"""Matcher use cases: apply registry events to the read model, and match waiting requests.

The ``matcher`` tables are the truth; the in-memory index is a cache of them. Every replica
keeps its index in step by reading the volunteer rows changed since its last look, so replicas
can share one durable consumer and still see every change. Capacity and the one-active-match
rule are enforced by conditional updates in the database, not by the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic, perf_counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.matcher.adapters.orm import matches, outbox, processed_events, requests, volunteers
from services.matcher.domain import model as domain
from services.matcher.domain.assignment import match_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.warmup import compile_kernels
from services.matcher.metrics import (
    MATCH_DISTANCE_KM,
    MATCH_SCORE,
    MATCHER_BATCH_SECONDS,
    MATCHER_BOOKING_CONFLICTS,
    MATCHER_PROPOSALS,
    MATCHER_UNMATCHED,
    VOLUNTEER_ACTIVE_MATCHES,
    VOLUNTEER_CAPACITY,
    VOLUNTEER_LOAD_AT_PROPOSAL,
    VOLUNTEERS,
)
from shared import events
from shared.outbox import add_event

log = logging.getLogger(__name__)

URGENCY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}
# Rows committed slightly out of timestamp order are still seen by the next index sync.
SYNC_MARGIN = timedelta(seconds=5)


def _now() -> datetime:
    return datetime.now(UTC)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _windows(items: Iterable[dict[str, str]]) -> tuple[domain.WeeklyWindow, ...]:
    return tuple(
        domain.WeeklyWindow(day=w["day"], start=_clock(w["start"]), end=_clock(w["end"]))  # type: ignore[arg-type]
        for w in items
    )


def volunteer_from_row(row: Any) -> domain.Volunteer:
    profile = row.profile
    location = profile.get("location")
    return domain.Volunteer(
        volunteer_id=row.volunteer_id,
        locale=profile["locale"],
        languages=tuple(
            domain.LanguageLevel(lang["code"], lang["level"]) for lang in profile["languages"]
        ),
        skills=frozenset(profile["skills"]),
        lat=location["lat"] if location else None,
        lon=location["lon"] if location else None,
        max_travel_km=float(profile["max_travel_km"]),
        remote_ok=bool(profile["remote_ok"]),
        availability=_windows(profile["availability"]),
        timezone=profile["timezone"],
        capacity=row.capacity,
        active_matches=row.active_matches,
        paused=row.paused,
    )


def request_from_row(row: Any) -> domain.Request:
    payload = row.payload
    location = payload.get("location")
    return domain.Request(
        request_id=row.request_id,
        beneficiary_locale=payload["beneficiary_locale"],
        languages=tuple(payload["languages"]),
        skills=frozenset(payload["skills"]),
        lat=location["lat"] if location else None,
        lon=location["lon"] if location else None,
        remote_ok=bool(payload["remote_ok"]),
        windows=_windows(payload["windows"]),
        timezone=payload["timezone"],
        urgency=payload["urgency"],
        needed_by=date.fromisoformat(payload["needed_by"]),
        submitted_at=row.submitted_at,
        excluded_volunteers=frozenset(uuid.UUID(v) for v in row.excluded_volunteers),
    )


class NotYetKnown(Exception):
    """The event refers to something whose own event has not been applied yet."""


@dataclass
class BatchOutcome:
    proposed: int = 0
    unmatched: int = 0
    conflicts: int = 0
    requests: int = 0
    proposals: list[events.MatchProposed] = field(default_factory=list)


class Matcher:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        weights: domain.Weights = domain.DEFAULT_WEIGHTS,
        batch_size: int = 100,
        batch_window_seconds: float = 0.05,
        idle_poll_seconds: float = 2.0,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.weights = weights
        self.batch_size = batch_size
        self.batch_window_seconds = batch_window_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.on_commit = on_commit
        self.clock = clock
        self.index = VolunteerIndex()
        self._synced_until: datetime | None = None
        self._seen: dict[uuid.UUID, datetime] = {}  # updated_at of each row as last indexed
        self._snapshots: dict[uuid.UUID, datetime] = {}  # snapshot_at of each indexed profile
        self._wake = asyncio.Event()
        self._stopping = False

    # --- index ------------------------------------------------------------------------------

    async def sync_index(self) -> int:
        """Bring the index up to date with volunteer rows changed since the last sync; returns
        how many rows changed. Only a new profile snapshot re-indexes a volunteer; a change of
        load or pause only updates those columns."""
        async with self.engine.connect() as conn:
            if self._synced_until is None:
                rows = (await conn.execute(sa.select(volunteers))).all()
                stamps = [(row.volunteer_id, row.updated_at) for row in rows]
            else:
                # Rows seen already come back within the margin: their ids and stamps first,
                # then whole rows (profiles are JSON, costly to decode) only where changed.
                stamps = [
                    (row.volunteer_id, row.updated_at)
                    for row in await conn.execute(
                        sa.select(volunteers.c.volunteer_id, volunteers.c.updated_at).where(
                            volunteers.c.updated_at > self._synced_until - SYNC_MARGIN
                        )
                    )
                ]
                changed_ids = [id_ for id_, at in stamps if self._seen.get(id_) != at]
                rows = []
                if changed_ids:
                    wanted = sa.bindparam("ids", changed_ids, type_=ARRAY(UUID(as_uuid=True)))
                    query = sa.select(volunteers).where(
                        volunteers.c.volunteer_id == sa.any_(wanted)
                    )
                    rows = (await conn.execute(query)).all()
        changed = 0
        for row in rows:
            if self._seen.get(row.volunteer_id) != row.updated_at:
                self._index_row(row)
                self._seen[row.volunteer_id] = row.updated_at
                changed += 1
        # A row read whole may be newer than its stamp read just before.
        for at in [at for _, at in stamps] + [row.updated_at for row in rows]:
            if self._synced_until is None or at > self._synced_until:
                self._synced_until = at
        if self._synced_until is None:
            self._synced_until = datetime.min.replace(tzinfo=UTC) + SYNC_MARGIN
        return changed

    def _index_row(self, row: Any) -> None:
        if row.erased:
            self.index.remove(row.volunteer_id)
            self._snapshots.pop(row.volunteer_id, None)
        elif self._snapshots.get(row.volunteer_id) == row.snapshot_at:
            self.index.set_load(row.volunteer_id, row.active_matches, row.paused)
        else:
            self.index.upsert(volunteer_from_row(row))
            self._snapshots[row.volunteer_id] = row.snapshot_at

    # --- events -----------------------------------------------------------------------------

    async def handle(self, event: events.Event) -> None:
        """Apply one registry event, once: a redelivered or duplicated event changes nothing."""
        async with self.engine.begin() as conn:
            first_time = (
                await conn.execute(
                    insert(processed_events)
                    .values(
                        event_id=event.event_id, subject=event.subject, processed_at=self.clock()
                    )
                    .on_conflict_do_nothing()
                    .returning(processed_events.c.event_id)
                )
            ).first()
            if first_time is None:
                return
            pool_changed = await self._apply(conn, event)
            if pool_changed:
                # Someone new may fit the requests nobody fitted before.
                await conn.execute(
                    requests.update()
                    .where(requests.c.status == "unmatched")
                    .values(status="waiting", updated_at=self.clock())
                )
        self.wake()  # the matching loop brings the index up to date first

    async def _apply(self, conn: AsyncConnection, event: events.Event) -> bool:
        now = self.clock()
        match event:
            case events.VolunteerRegistered() | events.VolunteerUpdated():
                profile = event.model_dump(mode="json")
                values = {
                    "profile": profile,
                    "snapshot_at": event.occurred_at,
                    "capacity": event.capacity,
                    "paused": event.paused,
                    "updated_at": now,
                }
                # Replicas may apply two snapshots out of order: the newer one wins, and an
                # erased volunteer stays erased.
                await conn.execute(
                    insert(volunteers)
                    .values(
                        volunteer_id=event.volunteer_id, active_matches=0, erased=False, **values
                    )
                    .on_conflict_do_update(
                        index_elements=[volunteers.c.volunteer_id],
                        set_=values,
                        where=sa.and_(
                            volunteers.c.snapshot_at <= event.occurred_at,
                            volunteers.c.erased.is_(False),
                        ),
                    )
                )
                return True
            case events.VolunteerErased():
                await conn.execute(
                    volunteers.update()
                    .where(volunteers.c.volunteer_id == event.volunteer_id)
                    .values(erased=True, paused=True, profile={}, updated_at=now)
                )
                return False
            case events.RequestSubmitted():
                await conn.execute(
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
                return False
            case events.RequestCancelled() | events.RequestExpired():
                known = await conn.scalar(
                    requests.update()
                    .where(requests.c.request_id == event.request_id)
                    .values(status="closed", updated_at=now)
                    .returning(requests.c.request_id)
                )
                if known is None:
                    # Its submission is still on its way (another replica holds it): retry later.
                    raise NotYetKnown(f"request {event.request_id} is not known yet")
                return await self._end_active_match(conn, event.request_id, "cancelled")
            case events.MatchAccepted():
                await conn.execute(
                    matches.update()
                    .where(matches.c.match_id == event.match_id, matches.c.status == "proposed")
                    .values(status="accepted", updated_at=now)
                )
                await conn.execute(
                    requests.update()
                    .where(requests.c.request_id == event.request_id)
                    .values(status="accepted", updated_at=now)
                )
                return False
            case events.MatchDeclined():
                freed = await self._end_match(conn, event.match_id, event.reason)
                if freed:
                    # Back to matching, without the volunteer who said no or did not answer.
                    await conn.execute(
                        requests.update()
                        .where(requests.c.request_id == event.request_id)
                        .values(
                            status="waiting",
                            excluded_volunteers=requests.c.excluded_volunteers
                            + sa.func.jsonb_build_array(str(event.volunteer_id)),
                            unmatched_reasons=None,
                            updated_at=now,
                        )
                    )
                return freed
            case events.MatchCompleted():
                await conn.execute(
                    requests.update()
                    .where(requests.c.request_id == event.request_id)
                    .values(status="closed", updated_at=now)
                )
                return await self._end_match(conn, event.match_id, "completed")
        return False

    async def _end_active_match(
        self, conn: AsyncConnection, request_id: uuid.UUID, status: str
    ) -> bool:
        match_id = await conn.scalar(
            sa.select(matches.c.match_id).where(
                matches.c.request_id == request_id, matches.c.status.in_(("proposed", "accepted"))
            )
        )
        return match_id is not None and await self._end_match(conn, match_id, status)

    async def _end_match(self, conn: AsyncConnection, match_id: uuid.UUID, status: str) -> bool:
        """Close an active match and give its volunteer the slot back; False if it was not active."""
        volunteer_id = await conn.scalar(
            matches.update()
            .where(matches.c.match_id == match_id, matches.c.status.in_(("proposed", "accepted")))
            .values(status=status, updated_at=self.clock())
            .returning(matches.c.volunteer_id)
        )
        if volunteer_id is None:
            return False
        await conn.execute(
            volunteers.update()
            .where(volunteers.c.volunteer_id == volunteer_id, volunteers.c.active_matches > 0)
            .values(active_matches=volunteers.c.active_matches - 1, updated_at=self.clock())
        )
        return True

    # --- matching ---------------------------------------------------------------------------

    async def match_once(self) -> BatchOutcome:
        """Match one micro-batch of waiting requests, most urgent and oldest first."""
        await self.sync_index()
        outcome = BatchOutcome()
        now = self.clock()
        urgency_order = sa.case(URGENCY_RANK, value=requests.c.urgency, else_=9)
        async with self.engine.begin() as conn:
            # SKIP LOCKED: two matcher processes take different requests.
            rows = (
                await conn.execute(
                    sa.select(requests)
                    .where(requests.c.status == "waiting")
                    .order_by(urgency_order, requests.c.submitted_at)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return outcome
            outcome.requests = len(rows)
            started = perf_counter()
            by_id = {row.request_id: row for row in rows}
            proposals, unmatched = match_batch(
                [request_from_row(row) for row in rows], self.index, now, self.weights
            )
            for proposal in proposals:
                event = await self._propose(conn, by_id[proposal.request_id], proposal, now)
                if event is None:
                    outcome.conflicts += 1
                else:
                    outcome.proposed += 1
                    outcome.proposals.append(event)
            for result in unmatched:
                await self._unmatched(conn, by_id[result.request_id], result, now)
                outcome.unmatched += 1
        self.on_commit()
        MATCHER_BATCH_SECONDS.observe(perf_counter() - started)
        self._count(outcome, by_id, unmatched)
        await self.sync_index()
        return outcome

    def _count(
        self, outcome: BatchOutcome, rows: dict[uuid.UUID, Any], unmatched: list[domain.Unmatched]
    ) -> None:
        """Metrics of one committed batch; labels are codes only."""
        MATCHER_BOOKING_CONFLICTS.inc(outcome.conflicts)
        for event in outcome.proposals:
            MATCHER_PROPOSALS.labels(event.urgency).inc()
            MATCH_SCORE.observe(event.score)
            km = (
                next((r.model_extra or {}).get("km") for r in event.reasons if r.code == "distance")
                if any(r.code == "distance" for r in event.reasons)
                else None
            )
            if km is not None:
                MATCH_DISTANCE_KM.observe(float(km))
            load = event.breakdown.get("load")
            if load is not None:
                VOLUNTEER_LOAD_AT_PROPOSAL.observe(1.0 - load)
        for result in unmatched:
            code = result.reasons[0]["code"] if result.reasons else "unknown"
            MATCHER_UNMATCHED.labels(code, rows[result.request_id].urgency).inc()

    async def observe_volunteers(self) -> None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
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
        available, paused, erased, active, capacity = row
        VOLUNTEERS.labels("available").set(available)
        VOLUNTEERS.labels("paused").set(paused)
        VOLUNTEERS.labels("erased").set(erased)
        VOLUNTEER_ACTIVE_MATCHES.set(active)
        VOLUNTEER_CAPACITY.set(capacity)

    async def _propose(
        self, conn: AsyncConnection, request_row: Any, proposal: domain.Proposal, now: datetime
    ) -> events.MatchProposed | None:
        """Book a slot and record the match, all or nothing; None when the slot was taken."""
        async with conn.begin_nested() as savepoint:
            booked = await conn.scalar(
                volunteers.update()
                .where(
                    volunteers.c.volunteer_id == proposal.volunteer_id,
                    volunteers.c.active_matches < volunteers.c.capacity,
                    volunteers.c.paused.is_(False),
                    volunteers.c.erased.is_(False),
                )
                .values(active_matches=volunteers.c.active_matches + 1, updated_at=now)
                .returning(volunteers.c.active_matches)
            )
            if booked is None:
                # Another process took the last slot: this request is matched again next round.
                await savepoint.rollback()
                return None
            event = events.MatchProposed(
                match_id=uuid.uuid4(),
                request_id=proposal.request_id,
                volunteer_id=proposal.volunteer_id,
                organisation_id=request_row.organisation_id,
                urgency=request_row.urgency,
                score=round(proposal.score, 4),
                breakdown={k: round(v, 4) for k, v in proposal.breakdown.items()},
                reasons=[events.Reason(**reason) for reason in proposal.reasons],
                occurred_at=now,
            )
            await conn.execute(
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
            await conn.execute(
                requests.update()
                .where(requests.c.request_id == event.request_id)
                .values(status="proposed", unmatched_reasons=None, updated_at=now)
            )
            await add_event(conn, outbox, event)
        return event

    async def _unmatched(
        self, conn: AsyncConnection, request_row: Any, result: domain.Unmatched, now: datetime
    ) -> None:
        reasons = [events.Reason(**reason) for reason in result.reasons]
        stored = [r.model_dump(mode="json") for r in reasons]
        await conn.execute(
            requests.update()
            .where(requests.c.request_id == result.request_id)
            .values(status="unmatched", unmatched_reasons=stored, updated_at=now)
        )
        # Say it once per change of reasons, not at every retry.
        if request_row.unmatched_reasons != stored:
            event = events.RequestUnmatched(
                request_id=result.request_id,
                organisation_id=request_row.organisation_id,
                reasons=reasons,
                occurred_at=now,
            )
            await add_event(conn, outbox, event)

    # --- loop -------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Match whenever something changed (or every few seconds), in micro-batches."""
        await asyncio.to_thread(compile_kernels)  # seconds on a fresh install, off the loop
        await self.sync_index()
        observed_at = 0.0
        while not self._stopping:
            self._wake.clear()
            if monotonic() - observed_at > 5:
                observed_at = monotonic()
                with contextlib.suppress(Exception):
                    await self.observe_volunteers()
            try:
                outcome = await self.match_once()
            except Exception:
                log.exception("matching failed; retrying")
                outcome = BatchOutcome()
                await asyncio.sleep(1)
            if self._stopping:
                break
            if outcome.requests == self.batch_size or outcome.conflicts:
                continue  # more waiting, or losers of a race to match again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll_seconds)
            # Let a burst of arrivals gather into one batch.
            await asyncio.sleep(self.batch_window_seconds)
