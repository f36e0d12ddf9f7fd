"""Every query the registry makes, one repository per thing kept.

The use cases reach them through the unit of work (``uow.volunteers`` and so on) and see only
the protocols below, so a test can hand them an in-memory stand-in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.adapters.orm import (
    AuditEntry,
    Match,
    Organisation,
    ProcessedEvent,
    SupportRequest,
    Volunteer,
)
from shared.vocabulary import ACTIVE_MATCH_STATUSES, MatchStatus, RequestStatus, Urgency

# Words of the vocabulary in queries, typed so that a misspelt one fails the type check.
PROPOSED: MatchStatus = "proposed"
UNMATCHED: RequestStatus = "unmatched"
CRITICAL: Urgency = "critical"

# (status, urgency, language, how many) for the requests not served yet.
WaitingCount = tuple[RequestStatus, Urgency, str, int]
# (first reason code, urgency, how many) for the unmatched requests.
UnmatchedCount = tuple[str, Urgency, int]


class Organisations(Protocol):
    def add(self, organisation: Organisation) -> None: ...

    async def get(self, organisation_id: uuid.UUID) -> Organisation | None: ...

    async def by_api_key_hash(self, api_key_hash: str) -> Organisation | None: ...


class Volunteers(Protocol):
    def add(self, volunteer: Volunteer) -> None: ...

    async def get(self, volunteer_id: uuid.UUID, *, lock: bool = False) -> Volunteer | None: ...

    async def by_manage_token_hash(self, token_hash: str) -> Volunteer | None:
        """Locked for update: the caller is about to change the profile."""
        ...

    async def ids_by_email(self, email: str, limit: int) -> list[uuid.UUID]:
        """The newest profiles (not erased) registered with this address, any letter case."""
        ...


class Requests(Protocol):
    async def add(self, request: SupportRequest) -> None:
        """Stores the request at once; raises ``domain.Duplicate`` when its Idempotency-Key
        was stored first by another transaction."""
        ...

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None: ...

    async def of_organisation(
        self, organisation_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
    ) -> SupportRequest | None: ...

    async def by_idempotency_key(
        self, organisation_id: uuid.UUID, key: str
    ) -> SupportRequest | None: ...

    async def page(
        self, organisation_id: uuid.UUID, status: RequestStatus | None, limit: int, offset: int
    ) -> tuple[list[SupportRequest], int]:
        """Newest first, and how many there are in all."""
        ...

    async def past_their_date(self, limit: int) -> list[SupportRequest]:
        """Waiting requests whose ``needed_by`` passed in their own time zone; locked, skipping
        the ones another process holds."""
        ...

    async def waiting_counts(self) -> list[WaitingCount]: ...

    async def unmatched_counts(self) -> list[UnmatchedCount]: ...

    async def oldest_critical_waiting(self) -> datetime | None:
        """When the oldest critical request with no offer was submitted."""
        ...


class Matches(Protocol):
    def add(self, match: Match) -> None: ...

    async def get(self, match_id: uuid.UUID, *, lock: bool = False) -> Match | None: ...

    async def any_for(self, request_id: uuid.UUID) -> bool: ...

    async def active_for(self, request_id: uuid.UUID) -> Match | None: ...

    async def open_offer_for(self, request_id: uuid.UUID) -> Match | None: ...

    async def overdue(self, now: datetime, limit: int) -> list[Match]:
        """Open offers past their deadline, oldest deadline first; locked, skipping the ones
        another process holds."""
        ...

    async def to_volunteer(self, volunteer_id: uuid.UUID) -> list[tuple[Match, SupportRequest]]:
        """Every offer made to this volunteer, newest first, with its request."""
        ...

    async def for_requests(
        self, request_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[Match, Volunteer]]]:
        """Every offer made for these requests, oldest first, with its volunteer."""
        ...


class ProcessedEvents(Protocol):
    async def first_time(self, event_id: uuid.UUID, subject: str, now: datetime) -> bool:
        """Records the event as applied; False when it was already."""
        ...


class AuditTrail(Protocol):
    def add(self, entry: AuditEntry) -> None: ...

    async def page(
        self, organisation_id: uuid.UUID | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]:
        """Newest first, older than ``before_id``; ``organisation_id`` None means every
        organisation's and the rest."""
        ...

    async def forget_before(self, cutoff: datetime) -> int:
        """Delete the entries older than ``cutoff``; how many."""
        ...


# --- PostgreSQL -----------------------------------------------------------------------------


class _Sql:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class SqlOrganisations(_Sql):
    def add(self, organisation: Organisation) -> None:
        self.session.add(organisation)

    async def get(self, organisation_id: uuid.UUID) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def by_api_key_hash(self, api_key_hash: str) -> Organisation | None:
        found: Organisation | None = await self.session.scalar(
            sa.select(Organisation).where(Organisation.api_key_hash == api_key_hash)
        )
        return found


class SqlVolunteers(_Sql):
    def add(self, volunteer: Volunteer) -> None:
        self.session.add(volunteer)

    async def get(self, volunteer_id: uuid.UUID, *, lock: bool = False) -> Volunteer | None:
        return await self.session.get(Volunteer, volunteer_id, with_for_update=lock)

    async def by_manage_token_hash(self, token_hash: str) -> Volunteer | None:
        found: Volunteer | None = await self.session.scalar(
            sa.select(Volunteer).where(Volunteer.manage_token_hash == token_hash).with_for_update()
        )
        return found

    async def ids_by_email(self, email: str, limit: int) -> list[uuid.UUID]:
        found = await self.session.scalars(
            sa.select(Volunteer.id)
            .where(sa.func.lower(Volunteer.email) == email, Volunteer.erased_at.is_(None))
            .order_by(Volunteer.created_at.desc())
            .limit(limit)
        )
        return list(found.all())


class SqlRequests(_Sql):
    async def add(self, request: SupportRequest) -> None:
        self.session.add(request)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise domain.Duplicate(str(exc.orig)) from exc

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None:
        return await self.session.get(SupportRequest, request_id, with_for_update=lock)

    async def of_organisation(
        self, organisation_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
    ) -> SupportRequest | None:
        query = sa.select(SupportRequest).where(
            SupportRequest.id == request_id, SupportRequest.organisation_id == organisation_id
        )
        found: SupportRequest | None = await self.session.scalar(
            query.with_for_update() if lock else query
        )
        return found

    async def by_idempotency_key(
        self, organisation_id: uuid.UUID, key: str
    ) -> SupportRequest | None:
        found: SupportRequest | None = await self.session.scalar(
            sa.select(SupportRequest).where(
                SupportRequest.organisation_id == organisation_id,
                SupportRequest.idempotency_key == key,
            )
        )
        return found

    async def page(
        self, organisation_id: uuid.UUID, status: RequestStatus | None, limit: int, offset: int
    ) -> tuple[list[SupportRequest], int]:
        query = sa.select(SupportRequest).where(SupportRequest.organisation_id == organisation_id)
        if status:
            query = query.where(SupportRequest.status == status)
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(SupportRequest.created_at.desc(), SupportRequest.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def past_their_date(self, limit: int) -> list[SupportRequest]:
        local_today = sa.cast(sa.func.timezone(SupportRequest.timezone, sa.func.now()), sa.Date)
        found = await self.session.scalars(
            sa.select(SupportRequest)
            .where(
                SupportRequest.status.in_(domain.WAITING),
                SupportRequest.needed_by < local_today,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(found.all())

    async def waiting_counts(self) -> list[WaitingCount]:
        rows = await self.session.execute(
            sa.select(
                SupportRequest.status,
                SupportRequest.urgency,
                sa.func.jsonb_array_elements_text(SupportRequest.languages).label("language"),
                sa.func.count(),
            )
            .where(SupportRequest.status.in_(domain.WAITING))
            .group_by(sa.text("1, 2, 3"))
        )
        return [(status, urgency, language, count) for status, urgency, language, count in rows]

    async def unmatched_counts(self) -> list[UnmatchedCount]:
        rows = await self.session.execute(
            sa.select(
                sa.func.coalesce(SupportRequest.unmatched_reasons[0]["code"].astext, "unknown"),
                SupportRequest.urgency,
                sa.func.count(),
            )
            .where(SupportRequest.status == UNMATCHED)
            .group_by(sa.text("1, 2"))
        )
        return [(reason, urgency, count) for reason, urgency, count in rows]

    async def oldest_critical_waiting(self) -> datetime | None:
        oldest: datetime | None = await self.session.scalar(
            sa.select(sa.func.min(SupportRequest.created_at)).where(
                SupportRequest.status.in_(domain.OPEN_FOR_OFFERS),
                SupportRequest.urgency == CRITICAL,
            )
        )
        return oldest


class SqlMatches(_Sql):
    def add(self, match: Match) -> None:
        self.session.add(match)

    async def get(self, match_id: uuid.UUID, *, lock: bool = False) -> Match | None:
        return await self.session.get(Match, match_id, with_for_update=lock)

    async def any_for(self, request_id: uuid.UUID) -> bool:
        return bool(
            await self.session.scalar(sa.select(sa.exists().where(Match.request_id == request_id)))
        )

    async def active_for(self, request_id: uuid.UUID) -> Match | None:
        found: Match | None = await self.session.scalar(
            sa.select(Match).where(
                Match.request_id == request_id, Match.status.in_(ACTIVE_MATCH_STATUSES)
            )
        )
        return found

    async def open_offer_for(self, request_id: uuid.UUID) -> Match | None:
        found: Match | None = await self.session.scalar(
            sa.select(Match).where(Match.request_id == request_id, Match.status == PROPOSED)
        )
        return found

    async def overdue(self, now: datetime, limit: int) -> list[Match]:
        found = await self.session.scalars(
            sa.select(Match)
            .where(Match.status == PROPOSED, Match.respond_by < now)
            .order_by(Match.respond_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(found.all())

    async def to_volunteer(self, volunteer_id: uuid.UUID) -> list[tuple[Match, SupportRequest]]:
        rows = await self.session.execute(
            sa.select(Match, SupportRequest)
            .join(SupportRequest, SupportRequest.id == Match.request_id)
            .where(Match.volunteer_id == volunteer_id)
            .order_by(Match.proposed_at.desc())
        )
        return [(match, request) for match, request in rows]

    async def for_requests(
        self, request_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[Match, Volunteer]]]:
        rows = await self.session.execute(
            sa.select(Match, Volunteer)
            .join(Volunteer, Volunteer.id == Match.volunteer_id)
            .where(Match.request_id.in_(list(request_ids)))
            .order_by(Match.proposed_at)
        )
        found: dict[uuid.UUID, list[tuple[Match, Volunteer]]] = {}
        for match, volunteer in rows:
            found.setdefault(match.request_id, []).append((match, volunteer))
        return found


class SqlProcessedEvents(_Sql):
    async def first_time(self, event_id: uuid.UUID, subject: str, now: datetime) -> bool:
        inserted = await self.session.execute(
            insert(ProcessedEvent)
            .values(event_id=event_id, subject=subject, processed_at=now)
            .on_conflict_do_nothing()
            .returning(ProcessedEvent.event_id)
        )
        return inserted.first() is not None


class SqlAuditTrail(_Sql):
    def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    async def page(
        self, organisation_id: uuid.UUID | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]:
        query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if organisation_id is not None:
            query = query.where(AuditEntry.organisation_id == organisation_id)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        return list((await self.session.scalars(query)).all())

    async def forget_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            sa.delete(AuditEntry).where(AuditEntry.at < cutoff).returning(AuditEntry.id)
        )
        return len(result.all())
