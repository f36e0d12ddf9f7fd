"""Each request's best candidates in a batch, or why it has none.

Retrieval and the cheap constraints run over the pairs of all requests at once; the score
with availability at its bound from the weekly bitmaps orders each request's pairs, and the
exact time check runs in that order until each request's ``top_k`` are certain.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.availability import DAY_SECONDS, SLOT_MINUTES, VectorOverlap
from services.matcher.domain.constraints import (
    IN_PERSON,
    PASSED,
    REMOTE,
    RequestColumns,
    prepare_many,
)
from services.matcher.domain.index import Rows, VolunteerIndex
from services.matcher.domain.model import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    Request,
    Unmatched,
    Weights,
    reason,
)
from services.matcher.domain.ranking import (
    Evaluation,
    availability_component,
    evaluations_of_pairs,
    static_components,
    weighted_sum,
)
from services.matcher.domain.retrieval import Pairs, cheap_constraints
from services.matcher.domain.unmatched import explain_many

DEFAULT_TOP_K = 20


@dataclass(frozen=True)
class ScoredRequest:
    """A request's best candidates (each passing every constraint), best first."""

    request: Request
    candidates: Evaluation

    @property
    def rows(self) -> Rows:
        return self.candidates.rows

    @property
    def scores(self) -> NDArray[np.float64]:
        return self.candidates.score


def _availability_bound(columns: RequestColumns, pairs: Pairs) -> NDArray[np.float64]:
    """An upper bound of the availability component from the weekly bitmaps.

    Every shared second lies in a 15-minute weekly slot marked in both bitmaps, and a weekly
    slot occurs at most ``ceil(horizon / week) + 1`` times in the horizon.
    """
    times = columns.times
    horizon = (times.horizon_end - times.horizon_start)[pairs.request]
    occurrences = -(-horizon // (7 * DAY_SECONDS)) + 1
    bound = pairs.shared_slots * (SLOT_MINUTES * 60) * occurrences
    return availability_component(columns.needed_seconds[pairs.request], bound)


def _by_request_then_descending(
    request: NDArray[np.int64], value: NDArray[np.float64], requests: int
) -> NDArray[np.int64]:
    """Order of pairs grouped by request (as they are) and by decreasing value within each.

    Sorting each request's run on its own is about twice as fast as one global sort.
    """
    bounds = np.searchsorted(request, np.arange(requests + 1)).tolist()
    order = np.empty(request.size, dtype=np.int64)
    negated = -value
    for start, end in itertools.pairwise(bounds):
        order[start:end] = start + np.argsort(negated[start:end])
    return order


def _order_key(
    request: NDArray[np.int64], score: NDArray[np.float64], weights: Weights
) -> NDArray[np.float64]:
    """A sort key: by request, then by decreasing score (scores are in [0, sum of weights])."""
    total_weight = sum(getattr(weights, name) for name in COMPONENTS)
    key: NDArray[np.float64] = request + 0.5 * (1.0 - score / total_weight)
    return key


def _runs(start: NDArray[np.int64], count: NDArray[np.int64]) -> NDArray[np.int64]:
    """Positions ``start[i]`` to ``start[i] + count[i]`` (excluded) for each ``i`` in turn."""
    run_start = np.cumsum(count) - count
    positions: NDArray[np.int64] = np.repeat(start - run_start, count) + np.arange(int(count.sum()))
    return positions


def _rank_in_request(request: NDArray[np.int64]) -> NDArray[np.signedinteger[Any]]:
    """Each position's rank (from 0) in its request's run of ``request``, which is sorted."""
    return np.arange(request.size) - np.searchsorted(request, request)


def _check_time(
    index: VolunteerIndex,
    columns: RequestColumns,
    pair_request: NDArray[np.int64],
    pair_rows: Rows,
    partial: NDArray[np.float64],
    upper: NDArray[np.float64],
    sort_key: NDArray[np.float64],
    min_seconds: int,
    top_k: int,
    weights: Weights,
) -> tuple[NDArray[np.bool_], VectorOverlap]:
    """The exact time check, for all requests at once, best possible scores first.

    Pairs (``pair_request``, ``pair_rows``) are sorted by ``sort_key``: by request and, within
    a request, by decreasing ``upper`` (the best score the pair can have). Each round checks the next chunk of every
    request not finished yet in one vectorised call; a request is finished when its unchecked
    pairs cannot beat its ``top_k``-th best checked pair. The next chunk is twice the last one,
    or fewer when fewer unchecked pairs could still beat that ``top_k``-th best.

    Returns which pairs pass and their overlap; pairs not checked do not pass.
    """
    count = pair_rows.size
    requests = columns.locale_id.size
    passes = np.zeros(count, dtype=bool)
    overlaps = VectorOverlap.none(count)
    exact = np.full(count, -np.inf)
    segment_end = np.searchsorted(pair_request, np.arange(requests), "right")
    segment_start = np.searchsorted(pair_request, np.arange(requests), "left")
    next_pair = segment_start.copy()
    chunk = np.full(requests, max(2 * top_k, 16), dtype=np.int64)
    pending = np.flatnonzero(segment_end > next_pair)
    while pending.size:
        counts = np.minimum(chunk[pending], segment_end[pending] - next_pair[pending])
        batch = _runs(next_pair[pending], counts)
        overlap = index.time_overlap(
            pair_rows[batch], pair_request[batch], columns.times, min_seconds
        )
        ok = overlap.longest_seconds >= min_seconds
        passes[batch] = ok
        overlaps.put(batch, overlap)
        availability = availability_component(
            columns.needed_seconds[pair_request[batch]], overlap.total_seconds
        )
        exact[batch] = np.where(ok, partial[batch] + weights.availability * availability, -np.inf)
        next_pair[pending] += counts

        # The top_k-th best exact score of each pending request so far (-inf if fewer pass).
        # Checked pairs of pending requests are the start of their segments: look at those
        # only, not at every pair of the batch.
        checked = _runs(segment_start[pending], next_pair[pending] - segment_start[pending])
        found = checked[passes[checked]]
        order = found[np.lexsort((-exact[found], pair_request[found]))]
        rank = _rank_in_request(pair_request[order])
        kth_best = np.full(requests, -np.inf)
        at_k = order[rank == top_k - 1]
        kth_best[pair_request[at_k]] = exact[at_k]
        exhausted = next_pair[pending] >= segment_end[pending]
        next_upper = upper[np.minimum(next_pair[pending], count - 1)]
        pending = pending[~exhausted & (kth_best[pending] < next_upper)]
        # Pairs whose bound beats the top_k-th best so far; they come first in their request.
        known = np.isfinite(kth_best[pending])
        threshold_key = _order_key(pending, np.maximum(kth_best[pending], 0.0), weights)
        beating = np.searchsorted(sort_key, threshold_key, "left") - next_pair[pending]
        doubled = 2 * chunk[pending]
        chunk[pending] = np.where(known, np.clip(beating, 16, doubled), doubled)
    return passes, overlaps


def score_batch(
    requests: Sequence[Request],
    index: VolunteerIndex,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
    top_k: int = DEFAULT_TOP_K,
) -> list[ScoredRequest | Unmatched]:
    """Each request's ``top_k`` best candidates, or why it has none (in the order given).

    Retrieval goes through the grid groups and remote lists of each request's anchor skill
    (one grid look-up for the whole batch). Then the pairs of all requests are handled
    together as flat arrays: language, skills, capacity and the weekly bitmap; the score with
    availability at its bound from the bitmaps (an upper bound); and the exact time check,
    which runs in order of that bound and stops as soon as each request's ``top_k`` are
    certain. Requests left without a candidate are explained by ``explain_unmatched``'s
    funnel.
    """
    if len(index) == 0:
        return [Unmatched(r.request_id, [reason("no_volunteers")]) for r in requests]
    prepared = prepare_many(requests, index, now, weights)
    columns = RequestColumns.of(prepared)
    pairs = cheap_constraints(prepared, index, columns)
    mode = np.where(np.isnan(pairs.distance), REMOTE, IN_PERSON).astype(np.int8)
    components = static_components(
        index, columns, pairs.request, pairs.rows, mode, pairs.distance, pairs.best_rank, weights
    )
    # Best possible scores: availability at its bound from the bitmaps.
    partial = weighted_sum({**components, "availability": np.zeros(pairs.rows.size)}, weights)
    upper = partial + weights.availability * _availability_bound(columns, pairs)
    del components  # worked out again below for the few pairs that are kept
    order = _by_request_then_descending(pairs.request, upper, len(prepared))
    request, rows = pairs.request[order], pairs.rows[order]
    partial, upper = partial[order], upper[order]
    sort_key = _order_key(request, upper, weights)
    min_seconds = int(weights.min_overlap_minutes * 60)
    passes, overlap = _check_time(
        index, columns, request, rows, partial, upper, sort_key, min_seconds, top_k, weights
    )

    # Each request's best top_k among the pairs that passed the time check.
    passed = np.flatnonzero(passes)
    kept = pairs.take(order[passed])
    mode = mode[order[passed]]
    components = static_components(
        index, columns, kept.request, kept.rows, mode, kept.distance, kept.best_rank, weights
    )
    components["availability"] = availability_component(
        columns.needed_seconds[kept.request], overlap.total_seconds[passed]
    )
    score = weighted_sum(components, weights)
    ranked = np.lexsort((kept.rows, -score, kept.request))
    rank = _rank_in_request(kept.request[ranked])
    best = ranked[rank < top_k]
    evaluations = evaluations_of_pairs(
        prepared,
        index,
        columns,
        kept.request[best],
        kept.rows[best],
        np.full(best.size, PASSED, dtype=np.int8),
        mode[best],
        kept.distance[best],
        kept.best_rank[best],
        {name: values[best] for name, values in components.items()},
        overlap.first_start[passed][best],
        overlap.first_end[passed][best],
        score[best],
    )
    unmatched = [
        p for p, evaluation in zip(prepared, evaluations, strict=True) if not len(evaluation)
    ]
    explained = iter(explain_many(unmatched, index))
    return [
        ScoredRequest(p.request, evaluation) if len(evaluation) else next(explained)
        for p, evaluation in zip(prepared, evaluations, strict=True)
    ]


def score_request(
    request: Request,
    index: VolunteerIndex,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
    top_k: int = DEFAULT_TOP_K,
) -> ScoredRequest | Unmatched:
    """One request's ``top_k`` best candidates, or why it has none (see ``score_batch``)."""
    return score_batch([request], index, now, weights, top_k)[0]
