"""Keeps a replica's in-memory ``VolunteerIndex`` in step with the matcher's volunteer rows.

The rows are the truth and the index a cache of them. Each sync reads the rows changed since
the last look, whichever replica changed them, so replicas can share one durable consumer and
still see every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.matcher.adapters.repository import volunteer_from_row
from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.domain.index import VolunteerIndex

# Rows committed slightly out of timestamp order are still seen by the next sync.
SYNC_MARGIN = timedelta(seconds=5)


class IndexSync:
    def __init__(self, index: VolunteerIndex, new_uow: Callable[[], UnitOfWork]) -> None:
        self.index = index
        self._new_uow = new_uow
        self._synced_until: datetime | None = None
        self._seen: dict[uuid.UUID, datetime] = {}  # updated_at of each row as last indexed
        self._snapshots: dict[uuid.UUID, datetime] = {}  # snapshot_at of each indexed profile

    async def sync(self) -> int:
        """Bring the index up to date with volunteer rows changed since the last sync; returns
        how many rows changed. Only a new profile snapshot re-indexes a volunteer; a change of
        load or pause only updates those columns."""
        async with self._new_uow() as uow:
            if self._synced_until is None:
                rows = await uow.volunteers.all()
                stamps = [(row.volunteer_id, row.updated_at) for row in rows]
            else:
                # Rows seen already come back within the margin: their ids and stamps first,
                # then whole rows (profiles are JSON, costly to decode) only where changed.
                stamps = await uow.volunteers.stamps_since(self._synced_until - SYNC_MARGIN)
                changed_ids = [id_ for id_, at in stamps if self._seen.get(id_) != at]
                rows = await uow.volunteers.with_ids(changed_ids) if changed_ids else []
        changed = 0
        for row in rows:
            if self._seen.get(row.volunteer_id) != row.updated_at:
                self._index_row(row)
                self._seen[row.volunteer_id] = row.updated_at
                changed += 1
        # A row read whole may be newer than its stamp read just before.
        for at in [at for _, at in stamps] + [row.updated_at for row in rows]:
            if self._synced_until is None or at > self._synced_until:
                self._synced_until = at
        if self._synced_until is None:
            self._synced_until = datetime.min.replace(tzinfo=UTC) + SYNC_MARGIN
        return changed

    def _index_row(self, row: Any) -> None:
        if row.erased:
            self.index.remove(row.volunteer_id)
            self._snapshots.pop(row.volunteer_id, None)
        elif self._snapshots.get(row.volunteer_id) == row.snapshot_at:
            self.index.set_load(row.volunteer_id, row.active_matches, row.paused)
        else:
            self.index.upsert(volunteer_from_row(row))
            self._snapshots[row.volunteer_id] = row.snapshot_at
