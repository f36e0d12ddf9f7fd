"""The matching round: one micro-batch of waiting requests matched in one transaction.

A round brings the index up to date, takes the waiting requests (most urgent and oldest
first, skipping those another matcher process holds), scores and assigns them against the
index, books each proposed volunteer's slot in the database, and writes ``match.proposed``
and ``request.unmatched`` events to the outbox in the same commit. A slot another process
took first leaves its request waiting for the next round.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter

from services.matcher.adapters.repository import WaitingRequest
from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.domain.assignment import match_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import DEFAULT_WEIGHTS, Proposal, Unmatched, Weights
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
from services.matcher.usecases import Clock, utc_now
from services.matcher.usecases.index_sync import IndexSync
from shared import events


@dataclass
class BatchOutcome:
    proposed: int = 0
    unmatched: int = 0
    conflicts: int = 0
    requests: int = 0
    proposals: list[events.MatchProposed] = field(default_factory=list)


class MatchingRound:
    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        index_sync: IndexSync,
        *,
        weights: Weights = DEFAULT_WEIGHTS,
        batch_size: int = 100,
        clock: Clock = utc_now,
    ) -> None:
        self.new_uow = new_uow
        self.index_sync = index_sync
        self.weights = weights
        self.batch_size = batch_size
        self.clock = clock

    @property
    def index(self) -> VolunteerIndex:
        return self.index_sync.index

    async def warm_up(self) -> None:
        """Compile the matching loops and fill the index before the first round."""
        await asyncio.to_thread(compile_kernels)  # seconds on a fresh install, off the loop
        await self.index_sync.sync()

    async def work(self) -> bool:
        """One round; True when more is waiting (a full batch, or losers of a race for a slot
        to match again)."""
        outcome = await self.match_once()
        return outcome.requests == self.batch_size or bool(outcome.conflicts)

    async def match_once(self) -> BatchOutcome:
        """Match one micro-batch of waiting requests, most urgent and oldest first."""
        await self.index_sync.sync()
        outcome = BatchOutcome()
        now = self.clock()
        async with self.new_uow() as uow:
            waiting = await uow.requests.take_waiting(self.batch_size)
            if not waiting:
                return outcome
            outcome.requests = len(waiting)
            started = perf_counter()
            by_id = {w.request.request_id: w for w in waiting}
            proposals, unmatched = match_batch(
                [w.request for w in waiting], self.index, now, self.weights
            )
            for proposal in proposals:
                event = await self._propose(uow, by_id[proposal.request_id], proposal, now)
                if event is None:
                    outcome.conflicts += 1
                else:
                    outcome.proposed += 1
                    outcome.proposals.append(event)
            for result in unmatched:
                await self._unmatched(uow, by_id[result.request_id], result, now)
                outcome.unmatched += 1
            await uow.commit()
        MATCHER_BATCH_SECONDS.observe(perf_counter() - started)
        self._count(outcome, by_id, unmatched)
        await self.index_sync.sync()
        return outcome

    async def _propose(
        self, uow: UnitOfWork, waiting: WaitingRequest, proposal: Proposal, now: datetime
    ) -> events.MatchProposed | None:
        """Book a slot and record the match, all or nothing; None when the slot was taken."""
        async with uow.savepoint() as savepoint:
            if not await uow.volunteers.book_slot(proposal.volunteer_id, now):
                # Another process took the last slot: this request is matched again next round.
                await savepoint.rollback()
                return None
            event = events.MatchProposed(
                match_id=uuid.uuid4(),
                request_id=proposal.request_id,
                volunteer_id=proposal.volunteer_id,
                organisation_id=waiting.organisation_id,
                urgency=waiting.urgency,
                score=round(proposal.score, 4),
                breakdown={k: round(v, 4) for k, v in proposal.breakdown.items()},
                reasons=[events.Reason(**reason) for reason in proposal.reasons],
                occurred_at=now,
            )
            await uow.matches.add(event, now)
            await uow.requests.mark_proposed(event.request_id, now)
            await uow.emit(event)
        return event

    async def _unmatched(
        self, uow: UnitOfWork, waiting: WaitingRequest, result: Unmatched, now: datetime
    ) -> None:
        reasons = [events.Reason(**reason) for reason in result.reasons]
        stored = [r.model_dump(mode="json") for r in reasons]
        await uow.requests.mark_unmatched(result.request_id, stored, now)
        # Say it once per change of reasons, not at every retry.
        if waiting.unmatched_reasons != stored:
            event = events.RequestUnmatched(
                request_id=result.request_id,
                organisation_id=waiting.organisation_id,
                reasons=reasons,
                occurred_at=now,
            )
            await uow.emit(event)

    def _count(
        self,
        outcome: BatchOutcome,
        waiting: dict[uuid.UUID, WaitingRequest],
        unmatched: list[Unmatched],
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
            MATCHER_UNMATCHED.labels(code, waiting[result.request_id].urgency).inc()

    async def observe_volunteers(self) -> None:
        """The volunteer pool for the operators' dashboards."""
        async with self.new_uow() as uow:
            counts = await uow.volunteers.counts()
        VOLUNTEERS.labels("available").set(counts.available)
        VOLUNTEERS.labels("paused").set(counts.paused)
        VOLUNTEERS.labels("erased").set(counts.erased)
        VOLUNTEER_ACTIVE_MATCHES.set(counts.active_matches)
        VOLUNTEER_CAPACITY.set(counts.capacity)
