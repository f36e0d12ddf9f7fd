"""The notifier's unit of work: its repository over one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifier.adapters.orm import outbox
from services.notifier.adapters.repository import Notifications
from shared.unit_of_work import ConnectionUnitOfWork


class UnitOfWork(ConnectionUnitOfWork):
    """One transaction on the notifier's tables."""

    notifications: Notifications

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, outbox, on_commit)

    def attach(self, connection: AsyncConnection) -> None:
        self.notifications = Notifications(connection)
