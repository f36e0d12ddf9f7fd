"""Plain reference versions of the matcher's compiled and vectorised code, for tests and
benchmarks only: one pair, one interval list, one request at a time, in plain Python.

They are the oracle the production code is checked against: ``evaluate_pair`` for the
constraints, score and reasons (``ranking.evaluate_rows``, ``candidates.score_batch``),
``pair_overlap`` for the shared time (``availability.vector_overlap``), and the greedy
first-come assignment and the plainly written objective for ``assignment.solve_assignment``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.assignment import NO_VOLUNTEER, CandidateList
from services.matcher.domain.availability import (
    Horizon,
    Interval,
    concrete_intervals,
    planning_horizon,
)
from services.matcher.domain.constraints import (
    IN_PERSON,
    NOT_REACHABLE,
    REMOTE,
    language_order,
    locale_language,
)
from services.matcher.domain.index import EARTH_RADIUS_KM
from services.matcher.domain.model import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    RANKED_LEVELS,
    Request,
    Volunteer,
    WeeklyWindow,
    Weights,
    level_rank,
)
from services.matcher.domain.ranking import CONVERSATIONAL_RANK, build_reasons
from shared.vocabulary import UnmatchedCode

# --- constraints, score and reasons of one pair ---------------------------------------------


@dataclass(frozen=True)
class PairResult:
    """The outcome for one pair: the failed constraint (``None`` if it passes) or the score."""

    failed: UnmatchedCode | None
    score: float  # nan when failed
    breakdown: dict[str, float]
    reasons: list[dict[str, Any]]


def _haversine_reference(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    half_dlat = math.sin((lat2 - lat1) / 2.0)
    half_dlon = math.sin((lon2 - lon1) / 2.0)
    a = half_dlat * half_dlat + math.cos(lat1) * math.cos(lat2) * half_dlon * half_dlon
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(a, 1.0)))


def _failed(stage: UnmatchedCode) -> PairResult:
    return PairResult(stage, math.nan, {}, [])


def evaluate_pair(
    request: Request,
    volunteer: Volunteer,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
) -> PairResult:
    """Check every hard constraint for one pair and score it, one plain step at a time."""
    # 1. Reach.
    distance = math.nan
    mode = NOT_REACHABLE
    if request.lat is not None and request.lon is not None:
        if volunteer.lat is not None and volunteer.lon is not None:
            distance = _haversine_reference(request.lat, request.lon, volunteer.lat, volunteer.lon)
            if distance <= volunteer.max_travel_km:
                mode = IN_PERSON
        if mode == NOT_REACHABLE and request.remote_ok and volunteer.remote_ok:
            mode = REMOTE
    elif volunteer.remote_ok:
        mode = REMOTE
    if mode == NOT_REACHABLE:
        return _failed("out_of_reach")

    # 2. Language.
    spoken: dict[str, int] = {}
    for language in volunteer.languages:
        code = language.code.lower()
        spoken[code] = max(spoken.get(code, 0), level_rank(language.level))
    order = language_order(request)
    best_rank = max((spoken.get(code, 0) for code in order), default=0)
    if best_rank == 0:
        return _failed("no_shared_language")
    best_language = next(code for code in order if spoken.get(code, 0) == best_rank)

    # 3. Skills.
    if not request.skills <= volunteer.skills:
        return _failed("missing_skill")

    # 4. Offered before, paused or full.
    if volunteer.volunteer_id in request.excluded_volunteers:
        return _failed("previously_offered")
    if volunteer.paused or volunteer.active_matches >= volunteer.capacity:
        return _failed("no_capacity")

    # 5. Time.
    horizon = planning_horizon(now, request.needed_by, request.timezone)
    min_seconds = int(weights.min_overlap_minutes * 60)
    overlap = pair_overlap(
        volunteer.availability,
        volunteer.timezone,
        request.windows,
        request.timezone,
        horizon,
        min_seconds,
    )
    if overlap.longest_seconds < min_seconds:
        return _failed("no_time_overlap")

    # Components.
    own_language = locale_language(request.beneficiary_locale)
    locale_bonus = spoken.get(own_language, 0) >= CONVERSATIONAL_RANK
    level = RANKED_LEVELS[best_rank - 1]
    language_score = min(
        1.0, weights.level_score(level) + (weights.locale_bonus if locale_bonus else 0.0)
    )

    needed = len(request.skills)
    common = len(request.skills & volunteer.skills)
    if needed:
        coverage = common / needed
        focus = common / len(volunteer.skills) if volunteer.skills else 0.0
    else:
        coverage = focus = 1.0
    skills_score = (1.0 - weights.specialisation) * coverage + weights.specialisation * focus

    if mode == IN_PERSON:
        ratio = distance / volunteer.max_travel_km if volunteer.max_travel_km > 0 else 0.0
        distance_score = 1.0 - (1.0 - weights.distance_at_reach) * ratio
        if request.remote_ok and volunteer.remote_ok:
            distance_score = max(distance_score, weights.remote_distance)
    else:
        distance_score = weights.remote_distance

    request_intervals = concrete_intervals(request.windows, request.timezone, horizon)
    availability_score = min(
        1.0, overlap.total_seconds / _needed_seconds(request_intervals, weights)
    )
    load_score = 1.0 - volunteer.active_matches / volunteer.capacity

    breakdown = {
        "language": language_score,
        "skills": skills_score,
        "distance": distance_score,
        "availability": availability_score,
        "load": load_score,
    }
    reasons = build_reasons(
        language=best_language,
        level=level,
        locale_bonus_language=own_language if locale_bonus else None,
        skills=request.skills,
        mode=mode,
        distance_km=distance,
        slot=overlap.first_slot,
        timezone=request.timezone,
        active=volunteer.active_matches,
        capacity=volunteer.capacity,
    )
    return PairResult(None, _weighted(breakdown, weights), breakdown, reasons)


def _weighted(breakdown: dict[str, float], weights: Weights) -> float:
    total = 0.0
    for name in COMPONENTS:
        total = total + getattr(weights, name) * breakdown[name]
    return total


def _needed_seconds(intervals: Sequence[Interval], weights: Weights) -> float:
    offered = sum(end - start for start, end in intervals)
    return float(min(offered, weights.availability_full_minutes * 60.0))


# --- shared time of one pair ----------------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    """Shared time of one volunteer and one request within the horizon."""

    total_seconds: int
    longest_seconds: int  # the longest uninterrupted stretch
    first_slot: Interval | None  # the first stretch at least the minimum long, UTC


def interval_overlap(
    first: Sequence[Interval], second: Sequence[Interval], min_seconds: int
) -> Overlap:
    """Shared time of two sorted, disjoint interval lists (a two-pointer sweep)."""
    total = longest = 0
    first_slot: Interval | None = None
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if end > start:
            total += end - start
            longest = max(longest, end - start)
            if first_slot is None and end - start >= min_seconds:
                first_slot = (start, end)
        if first[i][1] <= second[j][1]:
            i += 1
        else:
            j += 1
    return Overlap(total, longest, first_slot)


def pair_overlap(
    volunteer_windows: Sequence[WeeklyWindow],
    volunteer_timezone: str,
    request_windows: Sequence[WeeklyWindow],
    request_timezone: str,
    horizon: Horizon,
    min_seconds: int,
) -> Overlap:
    """Shared time of one volunteer and one request, each in its own time zone."""
    volunteer = concrete_intervals(volunteer_windows, volunteer_timezone, horizon)
    request = concrete_intervals(request_windows, request_timezone, horizon)
    return interval_overlap(volunteer, request, min_seconds)


# --- assignment: first come, first served; and the objective written out ------------------


def greedy_assignment(
    lists: Sequence[CandidateList],
    free_slots: NDArray[np.integer[Any]],
    capacity: NDArray[np.integer[Any]],
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[int]:
    """Baseline: in list (arrival) order, each request takes its best volunteer with room.

    A ``Solver`` of ``assignment``: ``assign(..., solver=greedy_assignment)`` proposes by it.
    """
    remaining: dict[int, int] = {}
    chosen = [NO_VOLUNTEER] * len(lists)
    for position, candidates in enumerate(lists):
        for candidate in np.argsort(-candidates.scores, kind="stable"):
            key = int(candidates.volunteers[candidate])
            room = remaining.setdefault(key, int(free_slots[key]))
            if room > 0:
                chosen[position] = key
                remaining[key] = room - 1
                break
    return chosen


def assignment_value(
    lists: Sequence[CandidateList],
    chosen: Sequence[int],
    capacity: NDArray[np.integer[Any]],
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """The objective ``solve_assignment`` maximises, for any choice (e.g. the greedy one).

    Within one volunteer the more urgent requests take the earlier slots, which is the best
    order for a fixed choice.
    """
    total = 0.0
    multipliers_of: dict[int, list[float]] = {}
    for candidates, key in zip(lists, chosen, strict=True):
        if key == NO_VOLUNTEER:
            continue
        position = int(np.flatnonzero(candidates.volunteers == key)[0])
        multiplier = weights.urgency_multiplier(candidates.urgency)
        total += multiplier * float(candidates.scores[position])
        multipliers_of.setdefault(key, []).append(multiplier)
    for key, multipliers in multipliers_of.items():
        step = weights.load / max(int(capacity[key]), 1)
        for slot, multiplier in enumerate(sorted(multipliers, reverse=True)):
            total -= multiplier * step * slot
    return total
