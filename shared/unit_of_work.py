"""A unit of work over one SQLAlchemy Core connection: the state changes a use case makes and
the outbox rows of its events commit together, or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from shared.events import Event
from shared.outbox import add_event


class ConnectionUnitOfWork:
    """``async with uow:`` opens a transaction; whatever is not committed when the block ends
    is rolled back, outbox rows included. A service subclasses it and attaches its
    repositories to the connection in ``attach``."""

    def __init__(
        self, engine: AsyncEngine, outbox: sa.Table, on_commit: Callable[[], None] = lambda: None
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._on_commit = on_commit
        self._emitted = 0

    def attach(self, connection: AsyncConnection) -> None:
        """Create this transaction's repositories."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._connection: AsyncConnection = await self._engine.connect()
        self._transaction: AsyncTransaction = await self._connection.begin()
        self._emitted = 0
        self.attach(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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
        await add_event(self._connection, self._outbox, event)
        self._emitted += 1

    async def commit(self) -> None:
        await self._transaction.commit()
        if self._emitted:
            # The relay publishes at once instead of at its next poll.
            self._on_commit()
            self._emitted = 0
