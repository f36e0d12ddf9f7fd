"""The unit of work owns the transaction: state changes and their outbox rows commit together."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.adapters.orm import outbox
from services.registry.adapters.repository import (
    AuditTrail,
    Matches,
    Organisations,
    ProcessedEvents,
    Requests,
    SqlAuditTrail,
    SqlMatches,
    SqlOrganisations,
    SqlProcessedEvents,
    SqlRequests,
    SqlVolunteers,
    Volunteers,
)
from shared.events import Event
from shared.outbox import add_event


class UnitOfWork(Protocol):
    """What a use case works through: the repositories of one transaction and its events.

    ``async with uow:`` opens a transaction; whatever is not committed when the block ends is
    rolled back, events included. Records read inside stay readable after the block. One unit of
    work may be entered again, one block after the other, each time with a new transaction.
    """

    @property
    def organisations(self) -> Organisations: ...

    @property
    def volunteers(self) -> Volunteers: ...

    @property
    def requests(self) -> Requests: ...

    @property
    def matches(self) -> Matches: ...

    @property
    def processed_events(self) -> ProcessedEvents: ...

    @property
    def audit(self) -> AuditTrail: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def emit(self, event: Event) -> None:
        """Publish ``event`` if, and only if, this transaction commits."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class SqlUnitOfWork:
    organisations: SqlOrganisations
    volunteers: SqlVolunteers
    requests: SqlRequests
    matches: SqlMatches
    processed_events: SqlProcessedEvents
    audit: SqlAuditTrail

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._session_factory = session_factory
        self._on_commit = on_commit
        self._emitted = 0

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self.organisations = SqlOrganisations(self.session)
        self.volunteers = SqlVolunteers(self.session)
        self.requests = SqlRequests(self.session)
        self.matches = SqlMatches(self.session)
        self.processed_events = SqlProcessedEvents(self.session)
        self.audit = SqlAuditTrail(self.session)
        self._emitted = 0
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back, outbox rows included. Loaded objects
        # are detached first so that callers can still read them after the unit of work.
        self.session.expunge_all()
        await self.session.rollback()
        await self.session.close()

    async def emit(self, event: Event) -> None:
        """Write the event to the outbox inside this transaction."""
        await self.session.flush()
        await add_event(self.session, outbox, event)
        self._emitted += 1

    async def commit(self) -> None:
        await self.session.commit()
        if self._emitted:
            self._on_commit()
            self._emitted = 0

    async def rollback(self) -> None:
        await self.session.rollback()
        self._emitted = 0
