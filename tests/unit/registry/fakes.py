"""An in-memory unit of work with the registry's repository interface, for use-case tests.

Each ``async with`` works on copies of the committed records; ``commit`` keeps them and the
events emitted, leaving the block without it forgets both, as the database would.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.registry import domain
from services.registry.adapters.orm import (
    AuditEntry,
    Match,
    Organisation,
    SupportRequest,
    Volunteer,
)
from services.registry.adapters.repository import UnmatchedCount, WaitingCount
from shared.events import Event
from shared.vocabulary import ACTIVE_MATCH_STATUSES, RequestStatus


def clone(record: Any) -> Any:
    """A detached copy of a record, as a new transaction would load it."""
    columns = sa.inspect(type(record)).column_attrs
    return type(record)(**{c.key: copy.deepcopy(getattr(record, c.key)) for c in columns})


@dataclass
class Store:
    """What is committed."""

    organisations: dict[uuid.UUID, Organisation] = field(default_factory=dict)
    volunteers: dict[uuid.UUID, Volunteer] = field(default_factory=dict)
    requests: dict[uuid.UUID, SupportRequest] = field(default_factory=dict)
    matches: dict[uuid.UUID, Match] = field(default_factory=dict)
    processed: set[uuid.UUID] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)

    def copy(self) -> Store:
        return Store(
            {k: clone(v) for k, v in self.organisations.items()},
            {k: clone(v) for k, v in self.volunteers.items()},
            {k: clone(v) for k, v in self.requests.items()},
            {k: clone(v) for k, v in self.matches.items()},
            set(self.processed),
            list(self.audit),
        )


class FakeOrganisations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, organisation: Organisation) -> None:
        self.store.organisations[organisation.id] = organisation

    async def get(self, organisation_id: uuid.UUID) -> Organisation | None:
        return self.store.organisations.get(organisation_id)

    async def by_api_key_hash(self, api_key_hash: str) -> Organisation | None:
        return next(
            (o for o in self.store.organisations.values() if o.api_key_hash == api_key_hash), None
        )


class FakeVolunteers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, volunteer: Volunteer) -> None:
        self.store.volunteers[volunteer.id] = volunteer

    async def get(self, volunteer_id: uuid.UUID, *, lock: bool = False) -> Volunteer | None:
        return self.store.volunteers.get(volunteer_id)

    async def by_manage_token_hash(self, token_hash: str) -> Volunteer | None:
        return next(
            (v for v in self.store.volunteers.values() if v.manage_token_hash == token_hash), None
        )

    async def ids_by_email(self, email: str, limit: int) -> list[uuid.UUID]:
        found = [
            v
            for v in self.store.volunteers.values()
            if (v.email or "").lower() == email and v.erased_at is None
        ]
        found.sort(key=lambda v: v.created_at, reverse=True)
        return [v.id for v in found[:limit]]


class FakeRequests:
    def __init__(self, store: Store, unit: FakeUnitOfWork) -> None:
        self.store = store
        self.unit = unit

    async def add(self, request: SupportRequest) -> None:
        if self.unit.before_add is not None:
            self.unit.before_add()
            self.unit.before_add = None
        taken = {
            (r.organisation_id, r.idempotency_key)
            for r in [*self.unit.committed.requests.values(), *self.store.requests.values()]
            if r.idempotency_key
        }
        if request.idempotency_key and (request.organisation_id, request.idempotency_key) in taken:
            raise domain.Duplicate("uq_requests_idempotency")
        self.store.requests[request.id] = request

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None:
        return self.store.requests.get(request_id)

    async def of_organisation(
        self, organisation_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
    ) -> SupportRequest | None:
        found = self.store.requests.get(request_id)
        return found if found is not None and found.organisation_id == organisation_id else None

    async def by_idempotency_key(
        self, organisation_id: uuid.UUID, key: str
    ) -> SupportRequest | None:
        return next(
            (
                r
                for r in self.store.requests.values()
                if r.organisation_id == organisation_id and r.idempotency_key == key
            ),
            None,
        )

    async def page(
        self, organisation_id: uuid.UUID, status: RequestStatus | None, limit: int, offset: int
    ) -> tuple[list[SupportRequest], int]:
        found = [
            r
            for r in self.store.requests.values()
            if r.organisation_id == organisation_id and (not status or r.status == status)
        ]
        found.sort(key=lambda r: (-r.created_at.timestamp(), str(r.id)))
        return found[offset : offset + limit], len(found)

    async def past_their_date(self, limit: int) -> list[SupportRequest]:
        now = self.unit.now()
        return [
            r
            for r in self.store.requests.values()
            if r.status in domain.WAITING
            and r.needed_by < now.astimezone(ZoneInfo(r.timezone)).date()
        ][:limit]

    async def waiting_counts(self) -> list[WaitingCount]:
        counts: dict[Any, int] = {}
        for r in self.store.requests.values():
            if r.status in domain.WAITING:
                for language in r.languages:
                    key = (r.status, r.urgency, language)
                    counts[key] = counts.get(key, 0) + 1
        return [(s, u, lang, n) for (s, u, lang), n in counts.items()]

    async def unmatched_counts(self) -> list[UnmatchedCount]:
        counts: dict[Any, int] = {}
        for r in self.store.requests.values():
            if r.status == "unmatched":
                reason = r.unmatched_reasons[0]["code"] if r.unmatched_reasons else "unknown"
                counts[(reason, r.urgency)] = counts.get((reason, r.urgency), 0) + 1
        return [(reason, u, n) for (reason, u), n in counts.items()]

    async def oldest_critical_waiting(self) -> datetime | None:
        return min(
            (
                r.created_at
                for r in self.store.requests.values()
                if r.status in domain.OPEN_FOR_OFFERS and r.urgency == "critical"
            ),
            default=None,
        )


class FakeMatches:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, match: Match) -> None:
        self.store.matches[match.id] = match

    async def get(self, match_id: uuid.UUID, *, lock: bool = False) -> Match | None:
        return self.store.matches.get(match_id)

    async def any_for(self, request_id: uuid.UUID) -> bool:
        return any(m.request_id == request_id for m in self.store.matches.values())

    async def active_for(self, request_id: uuid.UUID) -> Match | None:
        return next(
            (
                m
                for m in self.store.matches.values()
                if m.request_id == request_id and m.status in ACTIVE_MATCH_STATUSES
            ),
            None,
        )

    async def open_offer_for(self, request_id: uuid.UUID) -> Match | None:
        return next(
            (
                m
                for m in self.store.matches.values()
                if m.request_id == request_id and m.status == "proposed"
            ),
            None,
        )

    async def overdue(self, now: datetime, limit: int) -> list[Match]:
        found = [
            m for m in self.store.matches.values() if m.status == "proposed" and m.respond_by < now
        ]
        return sorted(found, key=lambda m: m.respond_by)[:limit]

    async def to_volunteer(self, volunteer_id: uuid.UUID) -> list[tuple[Match, SupportRequest]]:
        found = [m for m in self.store.matches.values() if m.volunteer_id == volunteer_id]
        found.sort(key=lambda m: m.proposed_at, reverse=True)
        return [(m, self.store.requests[m.request_id]) for m in found]

    async def for_requests(
        self, request_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[Match, Volunteer]]]:
        wanted = set(request_ids)
        found: dict[uuid.UUID, list[tuple[Match, Volunteer]]] = {}
        for m in sorted(self.store.matches.values(), key=lambda m: m.proposed_at):
            if m.request_id in wanted:
                found.setdefault(m.request_id, []).append(
                    (m, self.store.volunteers[m.volunteer_id])
                )
        return found


class FakeProcessedEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def first_time(self, event_id: uuid.UUID, subject: str, now: datetime) -> bool:
        if event_id in self.store.processed:
            return False
        self.store.processed.add(event_id)
        return True


class FakeAuditTrail:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, entry: AuditEntry) -> None:
        entry.id = len(self.store.audit) + 1
        self.store.audit.append(entry)

    async def page(
        self, organisation_id: uuid.UUID | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]:
        found = [
            e
            for e in reversed(self.store.audit)
            if organisation_id in (None, e.organisation_id)
            and (before_id is None or e.id < before_id)
        ]
        return found[:limit]

    async def forget_before(self, cutoff: datetime) -> int:
        kept = [e for e in self.store.audit if e.at >= cutoff]
        forgotten = len(self.store.audit) - len(kept)
        self.store.audit[:] = kept
        return forgotten


class FakeUnitOfWork:
    organisations: FakeOrganisations
    volunteers: FakeVolunteers
    requests: FakeRequests
    matches: FakeMatches
    processed_events: FakeProcessedEvents
    audit: FakeAuditTrail

    def __init__(self) -> None:
        self.committed = Store()
        self.published: list[Event] = []
        self.commits = 0
        # Runs once, just before the next request is stored: another transaction's move.
        self.before_add: Callable[[], None] | None = None
        self._pending: list[Event] = []

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def _open(self) -> None:
        self._working = self.committed.copy()
        self._pending = []
        self.organisations = FakeOrganisations(self._working)
        self.volunteers = FakeVolunteers(self._working)
        self.requests = FakeRequests(self._working, self)
        self.matches = FakeMatches(self._working)
        self.processed_events = FakeProcessedEvents(self._working)
        self.audit = FakeAuditTrail(self._working)

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._pending = []

    async def emit(self, event: Event) -> None:
        self._pending.append(event)

    async def commit(self) -> None:
        self.committed = self._working
        self._working = self.committed.copy()
        self._rebind()
        self.published += self._pending
        self._pending = []
        self.commits += 1

    async def rollback(self) -> None:
        self._open()

    def _rebind(self) -> None:
        # Records read in the transaction stay the caller's; later reads see the commit.
        self.organisations.store = self.volunteers.store = self._working
        self.requests.store = self.matches.store = self._working
        self.processed_events.store = self.audit.store = self._working
