"""Capacity-aware assignment of volunteers to a micro-batch of requests.

The batch is one maximum-weight bipartite matching. Each request is a row; each free
capacity slot of a candidate volunteer is a column (a volunteer with two free slots appears
twice). Giving request ``r`` the ``j``-th free slot (from 0) of volunteer ``v`` is worth::

    urgency(r) * (score(r, v) - load_weight * j / capacity(v))

that is, the pair score with the load component it would have after ``j`` other bookings
made in the same batch. So a volunteer's second slot is worth a little less than the first,
work is spread as the load component intends, and a critical request outbids a low one for a
scarce volunteer. A request may stay without a volunteer; it never gets one whose value is
not positive.

The batch splits into connected components (requests that share candidate volunteers); each
is solved exactly: a small one with ``scipy.optimize.linear_sum_assignment`` on a dense
matrix, a large one with ``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` on a
sparse matrix (with one "stay unmatched" column per request so a full matching exists).
Candidate lists come capped to each request's best ``top_k`` (``candidates.score_batch``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from services.matcher.domain.candidates import DEFAULT_TOP_K, ScoredRequest, score_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import (
    DEFAULT_WEIGHTS,
    Proposal,
    Request,
    Unmatched,
    Weights,
    reason,
)
from shared.vocabulary import Urgency

DENSE_CELL_LIMIT = 200_000
"""Components with more rows x slot columns than this are solved on a sparse matrix."""

NO_VOLUNTEER = -1


@dataclass(frozen=True)
class CandidateList:
    """One request's candidates for the assignment: distinct volunteer keys and pair scores."""

    urgency: Urgency
    volunteers: NDArray[np.int64]  # keys into ``free_slots`` / ``capacity`` (index rows)
    scores: NDArray[np.float64]


Solver = Callable[
    [Sequence[CandidateList], NDArray[np.integer[Any]], NDArray[np.integer[Any]], Weights],
    list[int],
]
"""Chooses a volunteer key (or ``NO_VOLUNTEER``) per list, e.g. ``solve_assignment``."""


@dataclass(frozen=True)
class _Edges:
    """Every (request, volunteer slot) pair worth giving, as flat arrays."""

    request: NDArray[np.int64]  # position in the batch
    volunteer: NDArray[np.int64]  # key
    slot: NDArray[np.int64]  # 0 for the volunteer's first free slot in this batch, 1, …
    value: NDArray[np.float64]


def _slot_edges(
    lists: Sequence[CandidateList],
    free_slots: NDArray[np.integer[Any]],
    capacity: NDArray[np.integer[Any]],
    weights: Weights,
) -> _Edges:
    sizes = np.array([candidates.volunteers.size for candidates in lists], dtype=np.int64)
    request = np.repeat(np.arange(len(lists), dtype=np.int64), sizes)
    if request.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Edges(empty, empty, empty, np.zeros(0))
    volunteer = np.concatenate([candidates.volunteers for candidates in lists]).astype(np.int64)
    score = np.concatenate([candidates.scores for candidates in lists]).astype(np.float64)
    if np.unique(request * (int(volunteer.max()) + 1) + volunteer).size != volunteer.size:
        raise ValueError("a candidate list names the same volunteer twice")
    multiplier = np.array([weights.urgency_multiplier(c.urgency) for c in lists])[request]

    # A volunteer never needs more slots than the requests that list them.
    demand = np.bincount(volunteer)[volunteer]
    slots = np.minimum(np.maximum(free_slots[volunteer], 0), demand).astype(np.int64)
    edge = np.repeat(np.arange(volunteer.size), slots)
    slot = np.arange(edge.size) - np.repeat(np.cumsum(slots) - slots, slots)
    value = multiplier[edge] * (
        score[edge] - weights.load * slot / np.maximum(capacity[volunteer[edge]], 1)
    )
    worth = value > 0
    return _Edges(request[edge][worth], volunteer[edge][worth], slot[worth], value[worth])


def solve_assignment(
    lists: Sequence[CandidateList],
    free_slots: NDArray[np.integer[Any]],
    capacity: NDArray[np.integer[Any]],
    weights: Weights = DEFAULT_WEIGHTS,
    dense_cell_limit: int = DENSE_CELL_LIMIT,
) -> list[int]:
    """The volunteer key chosen for each list (``NO_VOLUNTEER`` for none), maximising value."""
    chosen = [NO_VOLUNTEER] * len(lists)
    edges = _slot_edges(lists, free_slots, capacity, weights)
    if edges.value.size == 0:
        return chosen
    keys, volunteer_node = np.unique(edges.volunteer, return_inverse=True)
    requests = len(lists)
    graph = coo_matrix(
        (np.ones(edges.value.size), (edges.request, requests + volunteer_node)),
        shape=(requests + keys.size, requests + keys.size),
    )
    _, component_of_node = connected_components(graph, directed=False)
    component_of_edge = component_of_node[edges.request]
    order = np.argsort(component_of_edge, kind="stable")
    bounds = np.flatnonzero(np.diff(component_of_edge[order])) + 1
    for group in np.split(order, bounds):
        request, volunteer = edges.request[group], edges.volunteer[group]
        slot, value = edges.slot[group], edges.value[group]
        if np.all(request == request[0]):  # a request alone: its best first slot
            chosen[int(request[0])] = int(volunteer[np.argmax(value)])
            continue
        for row, key in _solve_component(request, volunteer, slot, value, dense_cell_limit):
            chosen[row] = key
    return chosen


def _solve_component(
    request: NDArray[np.int64],
    volunteer: NDArray[np.int64],
    slot: NDArray[np.int64],
    value: NDArray[np.float64],
    dense_cell_limit: int,
) -> list[tuple[int, int]]:
    """Maximum-weight matching of one component; returns (request, volunteer key) pairs."""
    request_ids, row = np.unique(request, return_inverse=True)
    # One column per (volunteer, slot); a flat integer key is much faster to make unique than
    # rows of a two-column array.
    slots = int(slot.max()) + 1
    column_keys, column = np.unique(volunteer * slots + slot, return_inverse=True)
    column = column.reshape(-1)
    column_volunteer = column_keys // slots
    rows, cols = request_ids.size, column_keys.size
    if rows * cols <= dense_cell_limit:
        matrix = np.zeros((rows, cols))
        matrix[row, column] = value
        matched_rows, matched_cols = linear_sum_assignment(matrix, maximize=True)
        real = matrix[matched_rows, matched_cols] > 0  # a zero cell is "no volunteer"
    else:
        # Minimise (ceiling - value); column cols + r lets row r stay unmatched at cost ceiling.
        ceiling = float(value.max()) + 1.0
        costs = np.concatenate([ceiling - value, np.full(rows, ceiling)])
        sparse = csr_matrix(
            (
                costs,
                (
                    np.concatenate([row, np.arange(rows)]),
                    np.concatenate([column, cols + np.arange(rows)]),
                ),
            ),
            shape=(rows, cols + rows),
        )
        matched_rows, matched_cols = min_weight_full_bipartite_matching(sparse)
        real = matched_cols < cols
    return [
        (int(request_ids[r]), int(column_volunteer[c]))
        for r, c in zip(matched_rows[real], matched_cols[real], strict=True)
    ]


# --- proposals ------------------------------------------------------------------------------


def candidate_lists(scored: Sequence[ScoredRequest]) -> list[CandidateList]:
    return [CandidateList(s.request.urgency, s.rows, s.scores) for s in scored]


def assign(
    scored: Sequence[ScoredRequest],
    index: VolunteerIndex,
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    solver: Solver = solve_assignment,
) -> tuple[list[Proposal], list[Unmatched]]:
    """Best joint assignment of the scored requests to the free slots of ``index``.

    ``solver`` chooses the volunteers (another one, such as a baseline, for comparison).
    """
    proposals: list[Proposal] = []
    unmatched: list[Unmatched] = []
    chosen = solver(candidate_lists(scored), index.free_slots(), index.capacity, weights)
    for candidates, key in zip(scored, chosen, strict=True):
        if key == NO_VOLUNTEER:
            # Every suitable volunteer went to requests that were worth more in this batch.
            outbid = reason("no_capacity", count=int(candidates.rows.size))
            unmatched.append(Unmatched(candidates.request.request_id, [outbid]))
        else:
            position = candidates.rows.tolist().index(key)
            proposals.append(candidates.candidates.proposal(position))
    return proposals, unmatched


def match_batch(
    requests: Sequence[Request],
    index: VolunteerIndex,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[Proposal], list[Unmatched]]:
    """Retrieve, score and assign a micro-batch of open requests against the index.

    Nothing is booked in the index: the caller records each proposal's slot (``set_load``)
    when it keeps the proposal.
    """
    ordered = sorted(requests, key=lambda request: request.submitted_at)
    scored: list[ScoredRequest] = []
    unmatched: list[Unmatched] = []
    for result in score_batch(ordered, index, now, weights, top_k):
        if isinstance(result, Unmatched):
            unmatched.append(result)
        else:
            scored.append(result)
    proposals, outbid = assign(scored, index, weights)
    return proposals, unmatched + outbid
