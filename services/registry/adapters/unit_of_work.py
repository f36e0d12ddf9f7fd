"""The unit of work owns the transaction: state changes and their outbox rows commit together."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.adapters.orm import outbox
from shared.events import Event
from shared.outbox import add_event


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._session_factory = session_factory
        self._on_commit = on_commit
        self._emitted = 0

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
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
