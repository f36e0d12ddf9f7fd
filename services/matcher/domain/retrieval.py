"""Candidate retrieval: the index rows each request of a batch can reach, found through the
index's grid (in person) and remote lists, then narrowed by the constraints that are cheap to
check (``cheap_constraints``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.constraints import (
    PASSED,
    PreparedRequest,
    RequestColumns,
    run_funnel,
)
from services.matcher.domain.index import Rows, VolunteerIndex


def reach_rows(
    prepared: PreparedRequest,
    index: VolunteerIndex,
    in_person: tuple[Rows, NDArray[np.float64]] | None = None,
) -> tuple[Rows, NDArray[np.float64]]:
    """Everyone the request can reach: rows within their own reach (with distances), then
    remote ones (distance nan). ``in_person`` may carry the first part, found beforehand."""
    rows, distance = np.zeros(0, dtype=np.int64), np.zeros(0)
    request = prepared.request
    if request.lat is not None and request.lon is not None:
        rows, distance = in_person or index.in_person_rows(request.lat, request.lon)
    if prepared.accepts_remote:
        remote = index.remote_rows_except(rows)
        rows = np.concatenate([rows, remote])
        distance = np.concatenate([distance, np.full(remote.size, np.nan)])
    return rows, distance


@dataclass(frozen=True)
class Pairs:
    """Candidate (request, volunteer row) pairs of a batch as flat arrays."""

    request: NDArray[np.int64]  # position of the request in the batch
    rows: Rows
    distance: NDArray[np.float64]  # nan for remote pairs
    best_rank: NDArray[np.uint8]
    shared_slots: NDArray[np.int64]  # 15-minute weekly slots both may be free in

    def take(self, keep: NDArray[Any]) -> Pairs:
        return Pairs(
            self.request[keep],
            self.rows[keep],
            self.distance[keep],
            self.best_rank[keep],
            self.shared_slots[keep],
        )


def _retrieve(
    prepared: Sequence[PreparedRequest], index: VolunteerIndex, columns: RequestColumns
) -> tuple[NDArray[np.int64], Rows]:
    """Every (request, row) pair worth checking further: near rows, then remote rows.

    Returns ``(request, rows)``. Rows near in-person requests come first, sorted by request,
    with room and possibly a shared language (not yet checked against the volunteer's own
    reach); then remote rows with room and a shared language, also sorted by request, never
    near rows of the same request. Every pair has the request's skills and was not offered
    it before.
    """
    usable = [number for number, p in enumerate(prepared) if not p.unknown_skills]
    located = [number for number in usable if prepared[number].in_person]
    point, near_rows = index.nearby_pairs(
        np.array([prepared[n].request.lat for n in located], dtype=np.float64),
        np.array([prepared[n].request.lon for n in located], dtype=np.float64),
        [prepared[n].anchor for n in located],
    )
    near_request = np.array(located, dtype=np.int64)[point]
    # Room and a possibly shared language in one look-up.
    keep = (index.open_language_bits[near_rows] & columns.language_bits[near_request]) != 0
    bounds = np.searchsorted(point, np.arange(len(located) + 1)).tolist()
    near_of = {number: (bounds[i], bounds[i + 1]) for i, number in enumerate(located)}

    # Remote lists with room, once per (anchor, languages) in the batch: requests share them.
    with_room: dict[tuple[int, tuple[int, ...]], Rows] = {}
    remote_numbers, remote_parts = [], []
    for number in usable:
        p = prepared[number]
        if not p.accepts_remote:
            continue
        key = (p.anchor, tuple(p.language_ids))
        remote = with_room.get(key)
        if remote is None:
            remote = index.remote_rows(p.anchor, p.language_ids)
            remote = with_room[key] = remote[index.has_room[remote]]
        if p.in_person:
            start, end = near_of[number]
            remote = index.rows_except(remote, near_rows[start:end])
        if len(p.request.skills) > 1:  # the anchor skill is there already
            need = np.uint64(p.skill_mask)
            remote = remote[(index.skill_bits[remote] & need) == need]
        remote_numbers.append(number)
        remote_parts.append(index.rows_except(remote, p.excluded_rows))
    remote_sizes = [part.size for part in remote_parts]

    near_request, near_rows = near_request[keep], near_rows[keep]
    need = columns.skill_mask[near_request]
    keep = (index.skill_bits[near_rows] & need) == need
    request = [
        near_request[keep],
        np.repeat(np.array(remote_numbers, dtype=np.int64), remote_sizes),
    ]
    rows = [near_rows[keep], *remote_parts]
    excluded = [number for number in located if prepared[number].excluded_rows.size]
    if excluded:
        keys = np.concatenate([n * index.row_count + prepared[n].excluded_rows for n in excluded])
        keep = ~np.isin(request[0] * index.row_count + rows[0], keys)
        request[0], rows[0] = request[0][keep], rows[0][keep]
    return np.concatenate(request), np.concatenate(rows)


def cheap_constraints(
    prepared: Sequence[PreparedRequest], index: VolunteerIndex, columns: RequestColumns
) -> Pairs:
    """Retrieve each request's rows; keep those passing every constraint checked cheaply.

    That is reach, language, skills, earlier offers, capacity, and the weekly bitmap, which
    never rejects a pair that really shares an hour (``run_funnel``, over the pairs of all
    requests at once).
    """
    request, rows = _retrieve(prepared, index, columns)
    # Near and remote pairs merged by request (two sorted runs: a linear merge, several times
    # faster on 32-bit keys than on 64-bit ones).
    order = np.argsort(request.astype(np.int32), kind="stable")
    request, rows = request[order], rows[order]
    funnel = run_funnel(columns, index, request, rows)
    keep = np.flatnonzero(funnel.stage == PASSED)
    return Pairs(
        request[keep],
        rows[keep],
        funnel.distance[keep],
        funnel.best_rank[keep],
        funnel.shared_slots[keep],
    )
