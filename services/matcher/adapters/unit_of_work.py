"""The unit of work owns the transaction: state changes and their outbox rows commit together."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from services.matcher.adapters.orm import outbox
from services.matcher.adapters.repository import Matches, ProcessedEvents, Requests, Volunteers
from shared.events import Event
from shared.outbox import add_event


class UnitOfWork:
    """One transaction on the matcher's tables, with a repository per table."""

    processed: ProcessedEvents
    volunteers: Volunteers
    requests: Requests
    matches: Matches

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._emitted = 0

    async def __aenter__(self) -> UnitOfWork:
        self._connection: AsyncConnection = await self._engine.connect()
        self._transaction: AsyncTransaction = await self._connection.begin()
        self._emitted = 0
        self.processed = ProcessedEvents(self._connection)
        self.volunteers = Volunteers(self._connection)
        self.requests = Requests(self._connection)
        self.matches = Matches(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # What the use case did not commit is undone, its outbox rows with it.
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._connection.close()

    def savepoint(self) -> AsyncTransaction:
        """A nested transaction: ``async with uow.savepoint() as savepoint`` undoes only what
        was done inside it when ``savepoint.rollback()`` is called."""
        return self._connection.begin_nested()

    async def emit(self, event: Event) -> None:
        """Write the event to the outbox inside this transaction."""
        await add_event(self._connection, outbox, event)
        self._emitted += 1

    async def commit(self) -> None:
        await self._transaction.commit()
        if self._emitted:
            self._on_commit()
            self._emitted = 0
