"""The matcher's unit of work: its repositories over one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.matcher.adapters.orm import outbox
from services.matcher.adapters.repository import Matches, ProcessedEvents, Requests, Volunteers
from shared.unit_of_work import ConnectionUnitOfWork


class UnitOfWork(ConnectionUnitOfWork):
    """One transaction on the matcher's tables, with a repository per table."""

    processed: ProcessedEvents
    volunteers: Volunteers
    requests: Requests
    matches: Matches

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, outbox, on_commit)

    def attach(self, connection: AsyncConnection) -> None:
        self.processed = ProcessedEvents(connection)
        self.volunteers = Volunteers(connection)
        self.requests = Requests(connection)
        self.matches = Matches(connection)
