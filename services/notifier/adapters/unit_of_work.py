"""The unit of work owns the transaction: state changes and their outbox rows commit together."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from services.notifier.adapters.orm import outbox
from services.notifier.adapters.repository import Notifications
from shared.events import Event
from shared.outbox import add_event


class UnitOfWork:
    """One transaction on the notifier's tables."""

    notifications: Notifications

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._emitted = 0

    async def __aenter__(self) -> UnitOfWork:
        self._connection: AsyncConnection = await self._engine.connect()
        self._transaction: AsyncTransaction = await self._connection.begin()
        self._emitted = 0
        self.notifications = Notifications(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # What the use case did not commit is undone, its outbox rows with it.
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._connection.close()

    async def emit(self, event: Event) -> None:
        """Write the event to the outbox inside this transaction."""
        await add_event(self._connection, outbox, event)
        self._emitted += 1

    async def commit(self) -> None:
        await self._transaction.commit()
        if self._emitted:
            # The relay publishes at once instead of at its next poll.
            self._on_commit()
            self._emitted = 0
