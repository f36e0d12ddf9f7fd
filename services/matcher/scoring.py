"""Hard constraints, the pair score and its reasons.

Hard constraints, applied in this order (the order is also the funnel that explains an
unmatched request):

1. reach: an in-person request is served in person by a volunteer with a location whose
   ``max_travel_km`` covers the great-circle distance. A remote request is served remotely by
   any volunteer with ``remote_ok``. An in-person request with ``remote_ok`` can be served
   either way: in person when the volunteer's reach covers it, otherwise remotely when the
   volunteer has ``remote_ok`` (distance does not matter then). A volunteer without a location
   (erased, or never given) can only work remotely.
2. language: at least one of the request's languages spoken by the volunteer. ``basic`` counts
   only when nothing better is shared (the best shared level is what is scored and reported).
3. skills: every needed skill.
4. availability of the volunteer: not already offered this request (declined or expired
   offers), not paused, and fewer active matches than their capacity.
5. time: an uninterrupted stretch of at least ``Weights.min_overlap_minutes`` shared by the
   volunteer's and the request's windows within the planning horizon (see ``availability``).

The score is a weighted sum of five components in [0, 1] (see ``Weights``):

- language: the level score of the best shared level, plus a bonus when the volunteer also
  speaks the beneficiary's locale language at conversational level or better; capped at 1.
- skills: ``(1 - s) * coverage + s * focus`` where coverage is the share of needed skills the
  volunteer has and focus the share of the volunteer's skills that are needed (a specialist
  beats a generalist); with no needed skills both are 1.
- distance: in person, ``1 - (1 - distance_at_reach) * km / reach``; remote, the neutral
  ``remote_distance``. An in-person pair that could also be done remotely never scores below
  a remote one.
- availability: shared minutes in the horizon over what is needed (the request's own window
  minutes in the horizon, at most ``availability_full_minutes``), capped at 1.
- load: ``1 - active / capacity``, which spreads work across volunteers.

``evaluate_pair`` is the plain per-pair reference; ``evaluate_rows`` and ``score_request`` are
the vectorised versions over index rows and give the same results. They check the constraints
in loops compiled by Numba (``_stage_kernel`` here, the exact time check in ``availability``)
over flat arrays of (request, row) pairs, and score the pairs that pass with numpy.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numba
import numpy as np
from numpy.typing import NDArray

from services.matcher.availability import (
    DAY_SECONDS,
    MIN_SHARED_SLOTS,
    SLOT_MINUTES,
    Horizon,
    Interval,
    RequestTimes,
    VectorOverlap,
    concrete_intervals,
    concrete_intervals_flat,
    describe_slot,
    pair_overlap,
    planning_horizon,
    request_bitmap,
    request_bitmaps,
    vector_overlap,
)
from services.matcher.domain import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    LEVELS,
    LanguageLevel,
    Proposal,
    Request,
    Unmatched,
    Volunteer,
    WeeklyWindow,
    Weights,
)
from services.matcher.index import (
    EARTH_RADIUS_KM,
    Rows,
    VolunteerIndex,
    level_rank,
)

# Why a pair fails, in the order the constraints are applied; 0 means it passes.
STAGES: tuple[str, ...] = (
    "out_of_reach",
    "no_shared_language",
    "missing_skill",
    "previously_offered",
    "no_capacity",
    "no_time_overlap",
)
PASSED = 0
OUT_OF_REACH = 1
NO_SHARED_LANGUAGE = 2
MISSING_SKILL = 3
PREVIOUSLY_OFFERED = 4
NO_CAPACITY = 5
NO_TIME_OVERLAP = 6

# How a pair would work together.
NOT_REACHABLE, IN_PERSON, REMOTE = 0, 1, 2

CONVERSATIONAL_RANK = level_rank("conversational")
DEFAULT_TOP_K = 20


def locale_language(locale: str) -> str:
    """The language part of a locale: ``"uk-UA"`` and ``"uk_UA"`` give ``"uk"``."""
    return locale.replace("_", "-").split("-")[0].lower()


def build_reasons(
    *,
    language: str,
    level: str,
    locale_bonus_language: str | None,
    skills: frozenset[str],
    mode: int,
    distance_km: float,
    slot: Interval | None,
    timezone: str,
    active: int,
    capacity: int,
) -> list[dict[str, Any]]:
    """Reason codes with parameters, for readers to render in any language."""
    reasons: list[dict[str, Any]] = [
        {"code": "shared_language", "language": language, "level": level}
    ]
    if locale_bonus_language is not None and locale_bonus_language != language:
        reasons.append({"code": "speaks_locale", "language": locale_bonus_language})
    if skills:
        reasons.append({"code": "skills", "skills": sorted(skills)})
    if mode == IN_PERSON:
        reasons.append({"code": "distance", "km": round(distance_km, 1)})
    else:
        reasons.append({"code": "remote"})
    if slot is not None:  # the first slot in the request's local time
        reasons.append({"code": "available", **describe_slot(slot, timezone)})
    reasons.append({"code": "load", "active": active, "capacity": capacity})
    return reasons


def _language_order(request: Request) -> list[str]:
    """The request's languages, the beneficiary's locale language first (ties go to it)."""
    codes = list(dict.fromkeys(code.lower() for code in request.languages))
    own = locale_language(request.beneficiary_locale)
    if own in codes:
        codes.remove(own)
        codes.insert(0, own)
    return codes


def _needed_seconds(intervals: Sequence[Interval], weights: Weights) -> float:
    offered = sum(end - start for start, end in intervals)
    return float(min(offered, weights.availability_full_minutes * 60.0))


# --- the plain per-pair reference -----------------------------------------------------------


@dataclass(frozen=True)
class PairResult:
    """The outcome for one pair: the failed constraint (``None`` if it passes) or the score."""

    failed: str | None
    score: float  # nan when failed
    breakdown: dict[str, float]
    reasons: list[dict[str, Any]]


def _haversine_reference(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    half_dlat = math.sin((lat2 - lat1) / 2.0)
    half_dlon = math.sin((lon2 - lon1) / 2.0)
    a = half_dlat * half_dlat + math.cos(lat1) * math.cos(lat2) * half_dlon * half_dlon
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(a, 1.0)))


def _failed(stage: str) -> PairResult:
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
    order = _language_order(request)
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
    level = LEVELS[best_rank - 1]
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


# --- the vectorised path --------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedRequest:
    """What the vectorised constraints need about one request, computed once."""

    request: Request
    horizon: Horizon
    intervals: NDArray[np.int64]  # (interval, start/end): concrete UTC windows in the horizon
    needed_seconds: float
    lat: float  # radians; nan for a remote request
    lon: float
    in_person: bool
    accepts_remote: bool
    language_codes: list[str]  # tie-break order
    language_ids: list[int]  # index ids of the ``language_codes`` someone speaks
    language_positions: list[int]  # their positions in ``language_codes``
    locale_language: str
    locale_id: int | None
    skill_mask: int
    unknown_skills: frozenset[str]  # needed skills no indexed volunteer has
    anchor: int  # the needed skill retrieval goes through (``EVERYONE`` if none)
    excluded_rows: Rows
    bitmap: NDArray[np.uint64]
    min_seconds: int


def prepare(
    request: Request, index: VolunteerIndex, now: datetime.datetime, weights: Weights
) -> PreparedRequest:
    return prepare_many([request], index, now, weights)[0]


def prepare_many(
    requests: Sequence[Request],
    index: VolunteerIndex,
    now: datetime.datetime,
    weights: Weights,
) -> list[PreparedRequest]:
    """``PreparedRequest`` for each request (their concrete windows computed together)."""
    horizons = [planning_horizon(now, r.needed_by, r.timezone) for r in requests]
    if len(requests) == 1:  # the same result; the plain loop has less set-up for one request
        single = concrete_intervals(requests[0].windows, requests[0].timezone, horizons[0])
        flat = np.array(single, dtype=np.int64).reshape(-1, 2)
        owner = np.zeros(len(single), dtype=np.int64)
        bitmaps = request_bitmap(single)[None]  # plain integers beat numpy set-up for one
    else:
        owner, start, end = concrete_intervals_flat(
            [r.windows for r in requests], [r.timezone for r in requests], horizons
        )
        flat = np.column_stack([start, end])
        bitmaps = request_bitmaps(owner, flat[:, 0], flat[:, 1], len(requests))
    count = len(requests)
    bounds = np.searchsorted(owner, np.arange(count + 1)).tolist()
    all_intervals = [flat[bounds[n] : bounds[n + 1]] for n in range(count)]
    offered = np.bincount(owner, weights=flat[:, 1] - flat[:, 0], minlength=count)
    needed = np.minimum(offered, weights.availability_full_minutes * 60.0).tolist()
    prepared = []
    for number, (request, horizon) in enumerate(zip(requests, horizons, strict=True)):
        in_person = request.lat is not None and request.lon is not None
        codes = _language_order(request)
        known = [(position, index.languages.get(code)) for position, code in enumerate(codes)]
        own = locale_language(request.beneficiary_locale)
        mask = 0
        unknown = set()
        for skill in request.skills:
            skill_id = index.skills.get(skill)
            if skill_id is None:
                unknown.add(skill)
            else:
                mask |= 1 << skill_id
        prepared.append(
            PreparedRequest(
                request=request,
                horizon=horizon,
                intervals=all_intervals[number],
                needed_seconds=needed[number],
                lat=math.radians(request.lat) if request.lat is not None else math.nan,
                lon=math.radians(request.lon) if request.lon is not None else math.nan,
                in_person=in_person,
                accepts_remote=not in_person or request.remote_ok,
                language_codes=codes,
                language_ids=[language for _, language in known if language is not None],
                language_positions=[
                    position for position, language in known if language is not None
                ],
                locale_language=own,
                locale_id=index.languages.get(own),
                skill_mask=mask,
                unknown_skills=frozenset(unknown),
                anchor=index.anchor_skill(mask),
                excluded_rows=index.rows_of(request.excluded_volunteers),
                bitmap=bitmaps[number],
                min_seconds=int(weights.min_overlap_minutes * 60),
            )
        )
    return prepared


@numba.njit(cache=True, nogil=True)
def _popcount(word: np.uint64) -> int:
    """Set bits of a 64-bit word (the classic bit-slicing count)."""
    word = word - ((word >> np.uint64(1)) & np.uint64(0x5555555555555555))
    word = (word & np.uint64(0x3333333333333333)) + (
        (word >> np.uint64(2)) & np.uint64(0x3333333333333333)
    )
    word = (word + (word >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((word * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True, nogil=True)
def _stage_kernel(  # compiled; checked against the reference in tests
    pair_request: NDArray[np.int64],
    rows: Rows,
    given_distance: NDArray[np.float64],
    distance_given: bool,
    request_lat: NDArray[np.float64],
    request_lon: NDArray[np.float64],
    request_cos_lat: NDArray[np.float64],
    request_in_person: NDArray[np.bool_],
    request_accepts_remote: NDArray[np.bool_],
    request_languages: NDArray[np.int64],
    request_skill_mask: NDArray[np.uint64],
    request_skills_known: NDArray[np.bool_],
    excluded_bounds: NDArray[np.int64],
    excluded_rows: Rows,
    request_bitmap: NDArray[np.uint64],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    cos_lat: NDArray[np.float64],
    reach_km: NDArray[np.float64],
    remote_ok: NDArray[np.bool_],
    levels: NDArray[np.uint8],
    skill_bits: NDArray[np.uint64],
    has_room: NDArray[np.bool_],
    week_bitmap: NDArray[np.uint64],
    stage: NDArray[np.int8],
    mode: NDArray[np.int8],
    distance: NDArray[np.float64],
    best_rank: NDArray[np.uint8],
    shared_slots: NDArray[np.int64],
) -> None:
    """The constraints before the exact time check, pair by pair, in funnel order.

    Pair ``p`` is request ``pair_request[p]`` (the ``request_*`` arrays, as in
    ``_RequestColumns``) and index row ``rows[p]`` (the index's columns). Fills the pair's
    first failed stage (``PASSED`` where only the exact time check is left), how it would
    work and its distance, its best shared level (for every pair) and its shared weekly
    slots (where checked). With ``distance_given``, reach is known already: in person at
    ``given_distance[p]``, or remotely where that is nan.
    """
    for p in range(rows.size):
        request, row = pair_request[p], rows[p]
        how, km = NOT_REACHABLE, np.nan
        if distance_given:
            km = given_distance[p]
            how = REMOTE if np.isnan(km) else IN_PERSON
        else:
            if request_accepts_remote[request] and remote_ok[row]:
                how = REMOTE
            reach = reach_km[row]
            # The latitude difference alone bounds the distance from below, so the haversine
            # runs only where that cannot rule the row out (no location: nan, never true).
            if (
                request_in_person[request]
                and abs(lat[row] - request_lat[request]) * EARTH_RADIUS_KM
                <= reach * (1.0 + 1e-9) + 1e-6
            ):
                half_dlat = math.sin((lat[row] - request_lat[request]) / 2.0)
                half_dlon = math.sin((lon[row] - request_lon[request]) / 2.0)
                cosines = request_cos_lat[request] * cos_lat[row]
                a = half_dlat * half_dlat + cosines * half_dlon * half_dlon
                here = 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(a, 1.0)))
                if here <= reach:
                    how, km = IN_PERSON, here
        mode[p], distance[p] = how, km
        rank = 0
        for slot in range(request_languages.shape[1]):
            language = request_languages[request, slot]
            if language < 0:
                break
            rank = max(rank, levels[language, row])
        best_rank[p] = rank

        if how == NOT_REACHABLE:
            stage[p] = OUT_OF_REACH
            continue
        if rank == 0:
            stage[p] = NO_SHARED_LANGUAGE
            continue
        need = request_skill_mask[request]
        if not request_skills_known[request] or (skill_bits[row] & need) != need:
            stage[p] = MISSING_SKILL
            continue
        first, past = excluded_bounds[request], excluded_bounds[request + 1]
        if past > first:
            at = first + np.searchsorted(excluded_rows[first:past], row)
            if at < past and excluded_rows[at] == row:
                stage[p] = PREVIOUSLY_OFFERED
                continue
        if not has_room[row]:
            stage[p] = NO_CAPACITY
            continue
        count = 0
        for word in range(request_bitmap.shape[1]):
            wanted = request_bitmap[request, word]
            if wanted:
                count += _popcount(week_bitmap[word, row] & wanted)
        shared_slots[p] = count
        stage[p] = PASSED if count >= MIN_SHARED_SLOTS else NO_TIME_OVERLAP


@dataclass(frozen=True)
class _RequestColumns:
    """Per-request values the flat (pair-wise) steps gather through each pair's request."""

    locale_id: NDArray[np.int64]  # -1 when no indexed volunteer speaks the locale language
    language_bits: NDArray[np.uint64]  # as ``VolunteerIndex.open_language_bits``
    lat: NDArray[np.float64]  # radians; nan for a remote request
    lon: NDArray[np.float64]
    cos_lat: NDArray[np.float64]
    skill_mask: NDArray[np.uint64]
    needed_skills: NDArray[np.int64]
    remote_ok: NDArray[np.bool_]
    needed_seconds: NDArray[np.float64]
    bitmap: NDArray[np.uint64]  # (request, word)
    language_ids: NDArray[np.int64]  # (request, slot), -1 where unused
    language_positions: NDArray[np.int64]  # (request, slot) positions in ``language_codes``
    in_person: NDArray[np.bool_]
    accepts_remote: NDArray[np.bool_]
    skills_known: NDArray[np.bool_]  # some indexed volunteer has each needed skill
    excluded_bounds: NDArray[np.int64]  # request r's excluded rows: ``excluded_rows[b[r]:b[r+1]]``
    excluded_rows: Rows  # sorted within each request
    times: RequestTimes

    @classmethod
    def of(cls, prepared: Sequence[PreparedRequest]) -> _RequestColumns:
        slots = max([1, *(len(p.language_ids) for p in prepared)])
        language_ids = np.full((len(prepared), slots), -1, dtype=np.int64)
        language_positions = np.full((len(prepared), slots), -1, dtype=np.int64)
        for number, p in enumerate(prepared):
            language_ids[number, : len(p.language_ids)] = p.language_ids
            language_positions[number, : len(p.language_positions)] = p.language_positions
        language_bits = [sum({1 << language % 64 for language in p.language_ids}) for p in prepared]
        lat = np.array([p.lat for p in prepared], dtype=np.float64)
        return cls(
            locale_id=np.array(
                [-1 if p.locale_id is None else p.locale_id for p in prepared], dtype=np.int64
            ),
            language_bits=np.array(language_bits, dtype=np.uint64),
            lat=lat,
            lon=np.array([p.lon for p in prepared], dtype=np.float64),
            cos_lat=np.cos(lat),
            skill_mask=np.array([p.skill_mask for p in prepared], dtype=np.uint64),
            needed_skills=np.array([len(p.request.skills) for p in prepared], dtype=np.int64),
            remote_ok=np.array([p.request.remote_ok for p in prepared], dtype=bool),
            needed_seconds=np.array([p.needed_seconds for p in prepared], dtype=np.float64),
            bitmap=np.array([p.bitmap for p in prepared], dtype=np.uint64).reshape(
                len(prepared), -1
            ),
            language_ids=language_ids,
            language_positions=language_positions,
            in_person=np.array([p.in_person for p in prepared], dtype=bool),
            accepts_remote=np.array([p.accepts_remote for p in prepared], dtype=bool),
            skills_known=np.array([not p.unknown_skills for p in prepared], dtype=bool),
            excluded_bounds=np.cumsum([0, *(p.excluded_rows.size for p in prepared)]),
            excluded_rows=np.concatenate(
                [np.zeros(0, dtype=np.int64), *(np.sort(p.excluded_rows) for p in prepared)]
            ),
            times=RequestTimes.of(
                [p.intervals for p in prepared],
                [p.horizon for p in prepared],
                np.array([p.bitmap for p in prepared], dtype=np.uint64),
            ),
        )


def _locale_bonus(
    index: VolunteerIndex, columns: _RequestColumns, request: NDArray[np.int64], rows: Rows
) -> NDArray[np.bool_]:
    locale_id = columns.locale_id[request]
    level = index.levels[np.maximum(locale_id, 0), rows]
    bonus: NDArray[np.bool_] = (locale_id >= 0) & (level >= CONVERSATIONAL_RANK)
    return bonus


def _static_components(
    index: VolunteerIndex,
    columns: _RequestColumns,
    request: NDArray[np.int64],
    rows: Rows,
    mode: NDArray[np.int8],
    distance: NDArray[np.float64],
    best_rank: NDArray[np.uint8],
    weights: Weights,
) -> dict[str, NDArray[np.float64]]:
    """Every component but availability, for pairs that pass the constraints before time."""
    level_scores = np.array(
        [0.0, weights.basic, weights.conversational, weights.fluent, weights.native]
    )
    language = level_scores[best_rank]
    bonus = _locale_bonus(index, columns, request, rows)
    language = np.minimum(1.0, np.where(bonus, language + weights.locale_bonus, language))

    has = index.skill_bits[rows]
    needed = columns.needed_skills[request].astype(np.float64)
    common = np.bitwise_count(has & columns.skill_mask[request]).astype(np.float64)
    own = np.bitwise_count(has).astype(np.float64)
    no_need = needed == 0  # then coverage and focus are both 1
    coverage = np.divide(common, needed, out=np.ones(rows.size), where=~no_need)
    focus = np.divide(common, own, out=no_need.astype(np.float64), where=~no_need & (own > 0))
    skills = (1.0 - weights.specialisation) * coverage + weights.specialisation * focus

    reach = index.reach_km[rows]
    ratio = np.divide(distance, reach, out=np.zeros(rows.size), where=reach > 0)
    in_person = 1.0 - (1.0 - weights.distance_at_reach) * ratio
    either_way = columns.remote_ok[request] & index.remote_ok[rows]
    in_person = np.where(either_way, np.maximum(in_person, weights.remote_distance), in_person)
    distance_score = np.where(mode == IN_PERSON, in_person, weights.remote_distance)

    load = 1.0 - index.active[rows] / np.maximum(index.capacity[rows], 1)
    return {"language": language, "skills": skills, "distance": distance_score, "load": load}


def _availability_component(
    needed_seconds: NDArray[np.float64], total_seconds: NDArray[np.int64]
) -> NDArray[np.float64]:
    ratio = np.divide(
        total_seconds, needed_seconds, out=np.zeros(total_seconds.size), where=needed_seconds > 0
    )
    return np.minimum(1.0, ratio)


def _weighted_sum(
    components: dict[str, NDArray[np.float64]], weights: Weights
) -> NDArray[np.float64]:
    total = np.zeros(next(iter(components.values())).size)
    for name in COMPONENTS:
        total = total + getattr(weights, name) * components[name]
    return total


def _language_choice(
    index: VolunteerIndex,
    columns: _RequestColumns,
    request: NDArray[np.int64],
    rows: Rows,
    best_rank: NDArray[np.uint8],
) -> NDArray[np.int64]:
    """Position in ``language_codes`` of the language reported as shared (-1: none)."""
    choice = np.full(rows.size, -1, dtype=np.int64)
    for slot in reversed(range(columns.language_ids.shape[1])):  # the earliest match wins
        language_id = columns.language_ids[request, slot]
        level = index.levels[np.maximum(language_id, 0), rows]
        matches = (language_id >= 0) & (level == best_rank) & (best_rank > 0)
        choice[matches] = columns.language_positions[request, slot][matches]
    return choice


@dataclass(frozen=True)
class Evaluation:
    """Vectorised outcome for a set of index rows against one request.

    ``stage`` is ``PASSED`` or the first failed constraint (``STAGES[stage - 1]``); the other
    arrays are meaningful where the row passes.
    """

    prepared: PreparedRequest
    rows: Rows
    volunteer_id_at: Callable[[int], UUID]  # index row -> volunteer id
    stage: NDArray[np.int8]
    score: NDArray[np.float64]
    components: dict[str, NDArray[np.float64]]
    mode: NDArray[np.int8]
    distance_km: NDArray[np.float64]
    best_rank: NDArray[np.uint8]
    language_choice: NDArray[np.int64]
    locale_bonus: NDArray[np.bool_]
    first_start: NDArray[np.int64]
    first_end: NDArray[np.int64]
    active: NDArray[np.int32]
    capacity: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.rows.size)

    def failed(self, position: int) -> str | None:
        stage = int(self.stage[position])
        return None if stage == PASSED else STAGES[stage - 1]

    def breakdown(self, position: int) -> dict[str, float]:
        return {name: float(self.components[name][position]) for name in COMPONENTS}

    def reasons(self, position: int) -> list[dict[str, Any]]:
        request = self.prepared.request
        start, end = int(self.first_start[position]), int(self.first_end[position])
        return build_reasons(
            language=self.prepared.language_codes[int(self.language_choice[position])],
            level=LEVELS[int(self.best_rank[position]) - 1],
            locale_bonus_language=(
                self.prepared.locale_language if self.locale_bonus[position] else None
            ),
            skills=request.skills,
            mode=int(self.mode[position]),
            distance_km=float(self.distance_km[position]),
            slot=(start, end) if start >= 0 else None,
            timezone=request.timezone,
            active=int(self.active[position]),
            capacity=int(self.capacity[position]),
        )

    def proposal(self, position: int) -> Proposal:
        if self.stage[position] != PASSED:
            raise ValueError(f"row {self.rows[position]} does not pass: {self.failed(position)}")
        return Proposal(
            request_id=self.prepared.request.request_id,
            volunteer_id=self.volunteer_id_at(int(self.rows[position])),
            score=float(self.score[position]),
            breakdown=self.breakdown(position),
            reasons=self.reasons(position),
        )


def _evaluations(
    prepared: Sequence[PreparedRequest],
    index: VolunteerIndex,
    columns: _RequestColumns,
    request: NDArray[np.int64],
    rows: Rows,
    stage: NDArray[np.int8],
    mode: NDArray[np.int8],
    distance: NDArray[np.float64],
    best_rank: NDArray[np.uint8],
    components: dict[str, NDArray[np.float64]],
    first_start: NDArray[np.int64],
    first_end: NDArray[np.int64],
    score: NDArray[np.float64],
) -> list[Evaluation]:
    """One ``Evaluation`` per request from flat pair arrays sorted by request.

    ``score`` is nan where the pair does not pass.
    """
    # What reasons need, worked out for the passing rows only.
    passing = np.flatnonzero(stage == PASSED)
    language_choice = np.full(rows.size, -1, dtype=np.int64)
    language_choice[passing] = _language_choice(
        index, columns, request[passing], rows[passing], best_rank[passing]
    )
    locale_bonus = np.zeros(rows.size, dtype=bool)
    locale_bonus[passing] = _locale_bonus(index, columns, request[passing], rows[passing])
    # Load figures only where reasons can be asked for (zeros cost no work elsewhere).
    active = np.zeros(rows.size, dtype=index.active.dtype)
    capacity = np.zeros(rows.size, dtype=index.capacity.dtype)
    active[passing], capacity[passing] = index.active[rows[passing]], index.capacity[rows[passing]]
    bounds = np.searchsorted(request, np.arange(len(prepared) + 1))
    evaluations = []
    for number, p in enumerate(prepared):
        part = slice(int(bounds[number]), int(bounds[number + 1]))
        evaluations.append(
            Evaluation(
                prepared=p,
                rows=rows[part],
                volunteer_id_at=index.volunteer_id_at,
                stage=stage[part],
                score=score[part],
                components={name: values[part] for name, values in components.items()},
                mode=mode[part],
                distance_km=distance[part],
                best_rank=best_rank[part],
                language_choice=language_choice[part],
                locale_bonus=locale_bonus[part],
                first_start=first_start[part],
                first_end=first_end[part],
                active=active[part],
                capacity=capacity[part],
            )
        )
    return evaluations


@dataclass(frozen=True)
class _Funnel:
    """Per pair: how it would work, its best shared level, its first failed constraint.

    ``stage`` is ``PASSED`` where every constraint checked so far passes; ``shared_slots``
    is set where the weekly bitmaps were compared.
    """

    mode: NDArray[np.int8]
    distance: NDArray[np.float64]
    best_rank: NDArray[np.uint8]
    stage: NDArray[np.int8]
    shared_slots: NDArray[np.int64]


def _funnel(
    columns: _RequestColumns,
    index: VolunteerIndex,
    pair_request: NDArray[np.int64],
    rows: Rows,
    distance: NDArray[np.float64] | None = None,
) -> _Funnel:
    """Every constraint but the exact time check, for pairs (``pair_request``, ``rows``).

    ``distance`` may carry the reach already known: in person where a distance is given,
    remotely where it is nan.
    """
    count = rows.size
    funnel = _Funnel(
        mode=np.empty(count, dtype=np.int8),
        distance=np.empty(count, dtype=np.float64),
        best_rank=np.empty(count, dtype=np.uint8),
        stage=np.empty(count, dtype=np.int8),
        shared_slots=np.zeros(count, dtype=np.int64),
    )
    _stage_kernel(
        pair_request,
        rows,
        np.zeros(0) if distance is None else distance,
        distance is not None,
        columns.lat,
        columns.lon,
        columns.cos_lat,
        columns.in_person,
        columns.accepts_remote,
        columns.language_ids,
        columns.skill_mask,
        columns.skills_known,
        columns.excluded_bounds,
        columns.excluded_rows,
        columns.bitmap,
        index.lat,
        index.lon,
        index.cos_lat,
        index.reach_km,
        index.remote_ok,
        index.levels,
        index.skill_bits,
        index.has_room,
        index.week_bitmap,
        funnel.stage,
        funnel.mode,
        funnel.distance,
        funnel.best_rank,
        funnel.shared_slots,
    )
    return funnel


def _constraint_stages(
    columns: _RequestColumns,
    number: int,
    index: VolunteerIndex,
    rows: Rows,
    distance: NDArray[np.float64] | None = None,
    min_seconds: int = int(DEFAULT_WEIGHTS.min_overlap_minutes * 60),
) -> tuple[_Funnel, VectorOverlap]:
    """Every constraint for every row against request ``number`` of ``columns``.

    Returns the ``_Funnel`` with the exact time check done (its ``stage`` final) and the
    overlap of every row (zero where the time check did not run). ``distance`` may carry
    the reach already known (see ``_funnel``).
    """
    request = np.full(rows.size, number, dtype=np.int64)
    funnel = _funnel(columns, index, request, rows, distance)
    stage = funnel.stage
    # The exact time check, only for rows that pass everything else and the weekly bitmap
    # (which never rejects a pair that really shares an hour).
    checked = np.flatnonzero(stage == PASSED)
    checked_rows = rows[checked]
    checked_overlap = vector_overlap(
        np.take(index.window_start, checked_rows, axis=0),  # faster than [] for 2-d rows
        np.take(index.window_end, checked_rows, axis=0),
        index.timezone_id[checked_rows],
        index.timezones.codes,
        request[checked],
        columns.times,
        min_seconds,
    )
    overlap = VectorOverlap(
        np.zeros(rows.size, dtype=np.int64),
        np.zeros(rows.size, dtype=np.int64),
        np.full(rows.size, -1, dtype=np.int64),
        np.full(rows.size, -1, dtype=np.int64),
    )
    for name in ("total_seconds", "longest_seconds", "first_start", "first_end"):
        getattr(overlap, name)[checked] = getattr(checked_overlap, name)
    stage[checked[checked_overlap.longest_seconds < min_seconds]] = NO_TIME_OVERLAP
    return funnel, overlap


def _evaluate(
    prepared: PreparedRequest, index: VolunteerIndex, rows: Rows, weights: Weights
) -> Evaluation:
    """Every constraint for every row, and the score of those that pass all of them."""
    columns = _RequestColumns.of([prepared])
    funnel, overlap = _constraint_stages(columns, 0, index, rows, min_seconds=prepared.min_seconds)
    mode, distance, best_rank, stage = funnel.mode, funnel.distance, funnel.best_rank, funnel.stage
    total_seconds = overlap.total_seconds
    first_start, first_end = overlap.first_start, overlap.first_end
    # Scores only for the rows that pass (nan elsewhere).
    passing = np.flatnonzero(stage == PASSED)
    request = np.zeros(passing.size, dtype=np.int64)  # the one request, for every passing row
    passing_components = _static_components(
        index,
        columns,
        request,
        rows[passing],
        mode[passing],
        distance[passing],
        best_rank[passing],
        weights,
    )
    passing_components["availability"] = _availability_component(
        columns.needed_seconds[request], total_seconds[passing]
    )
    # One block for the components and the score: nan where the row does not pass.
    block = np.full((len(passing_components) + 1, rows.size), np.nan)
    components = {}
    for number, (name, values) in enumerate(passing_components.items()):
        components[name] = block[number]
        components[name][passing] = values
    score = block[-1]
    score[passing] = _weighted_sum(passing_components, weights)  # not over the nan rows
    return _evaluations(
        [prepared],
        index,
        columns,
        np.zeros(rows.size, dtype=np.int64),
        rows,
        stage,
        mode,
        distance,
        best_rank,
        components,
        first_start,
        first_end,
        score,
    )[0]


def evaluate_rows(
    request: Request,
    index: VolunteerIndex,
    rows: Rows,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Evaluation:
    """Every constraint and the score for the given rows, all vectorised, no shortcuts."""
    prepared = prepare(request, index, now, weights)
    return _evaluate(prepared, index, np.asarray(rows, dtype=np.int64), weights)


# --- unmatched requests ---------------------------------------------------------------------


def explain_unmatched(
    request: Request,
    index: VolunteerIndex,
    now: datetime.datetime,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Unmatched:
    """Why a request has no candidate: the constraints as a funnel, the decisive one first.

    The funnel applies the constraints in order (reach, language, skills, earlier offers,
    capacity, time) to the volunteers that passed the earlier ones. The decisive constraint is
    the one that removed the last candidates; the others that removed anyone follow in funnel
    order, each with how many volunteers it removed (``count``).
    """
    if len(index) == 0:
        return Unmatched(request.request_id, [{"code": "no_volunteers"}])
    return _explain_many(prepare_many([request], index, now, weights), index)[0]


def _explain_many(prepared: Sequence[PreparedRequest], index: VolunteerIndex) -> list[Unmatched]:
    if not prepared:
        return []
    located = [p for p in prepared if p.in_person]
    retrieved = index.in_person_rows_many(
        np.array([p.request.lat for p in located], dtype=np.float64),
        np.array([p.request.lon for p in located], dtype=np.float64),
    )
    in_person_of = {id(p): found for p, found in zip(located, retrieved, strict=True)}
    columns = _RequestColumns.of(prepared)
    explained = []
    for number, p in enumerate(prepared):
        rows, distance = _reach_rows(p, index, in_person_of.get(id(p)))
        stage = _constraint_stages(columns, number, index, rows, distance, p.min_seconds)[0].stage
        removed = np.bincount(stage, minlength=len(STAGES) + 1)
        funnel = {code: int(removed[number]) for number, code in enumerate(STAGES, start=1)}
        funnel["out_of_reach"] += len(index) - rows.size
        failing = [number for number in range(1, len(STAGES) + 1) if removed[number]]
        decisive = STAGES[max(failing) - 1] if failing else "out_of_reach"
        reached_skills = rows[(stage == PASSED) | (stage >= MISSING_SKILL)]
        explained.append(_unmatched(p, index, funnel, decisive, reached_skills))
    return explained


def _unmatched(
    prepared: PreparedRequest,
    index: VolunteerIndex,
    funnel: dict[str, int],
    decisive: str,
    reached_skills: Rows,
) -> Unmatched:
    request = prepared.request

    def reason(code: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": code, "count": funnel[code]}
        if code == "no_shared_language":
            entry["languages"] = list(request.languages)
        elif code == "missing_skill":
            entry["skills"] = _missing_skills(prepared, index, reached_skills)
        return entry

    others = [code for code in STAGES if code != decisive and funnel[code] > 0]
    return Unmatched(request.request_id, [reason(decisive), *(reason(code) for code in others)])


def _missing_skills(prepared: PreparedRequest, index: VolunteerIndex, rows: Rows) -> list[str]:
    """Needed skills none of ``rows`` has; all needed skills if only the combination is missing."""
    held = int(np.bitwise_or.reduce(index.skill_bits[rows])) if rows.size else 0
    missing = set(prepared.unknown_skills)
    for skill in prepared.request.skills:
        skill_id = index.skills.get(skill)
        if skill_id is not None and not held >> skill_id & 1:
            missing.add(skill)
    return sorted(missing or prepared.request.skills)


# --- the best candidates of a batch of requests ---------------------------------------------


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


def _reach_rows(
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
class _Pairs:
    """Candidate (request, volunteer row) pairs of a batch as flat arrays."""

    request: NDArray[np.int64]  # position of the request in the batch
    rows: Rows
    distance: NDArray[np.float64]  # nan for remote pairs
    best_rank: NDArray[np.uint8]
    shared_slots: NDArray[np.int64]  # 15-minute weekly slots both may be free in

    def take(self, keep: NDArray[Any]) -> _Pairs:
        return _Pairs(
            self.request[keep],
            self.rows[keep],
            self.distance[keep],
            self.best_rank[keep],
            self.shared_slots[keep],
        )


def _retrieve(
    prepared: Sequence[PreparedRequest], index: VolunteerIndex, columns: _RequestColumns
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


def _cheap_constraints(
    prepared: Sequence[PreparedRequest], index: VolunteerIndex, columns: _RequestColumns
) -> _Pairs:
    """Retrieve each request's rows; keep those passing every constraint checked cheaply.

    That is reach, language, skills, earlier offers, capacity, and the weekly bitmap, which
    never rejects a pair that really shares an hour (``_funnel``, over the pairs of all
    requests at once).
    """
    request, rows = _retrieve(prepared, index, columns)
    # Near and remote pairs merged by request (two sorted runs: a linear merge, several times
    # faster on 32-bit keys than on 64-bit ones).
    order = np.argsort(request.astype(np.int32), kind="stable")
    request, rows = request[order], rows[order]
    funnel = _funnel(columns, index, request, rows)
    keep = np.flatnonzero(funnel.stage == PASSED)
    return _Pairs(
        request[keep],
        rows[keep],
        funnel.distance[keep],
        funnel.best_rank[keep],
        funnel.shared_slots[keep],
    )


def _availability_bound(columns: _RequestColumns, pairs: _Pairs) -> NDArray[np.float64]:
    """An upper bound of the availability component from the weekly bitmaps.

    Every shared second lies in a 15-minute weekly slot marked in both bitmaps, and a weekly
    slot occurs at most ``ceil(horizon / week) + 1`` times in the horizon.
    """
    times = columns.times
    horizon = (times.horizon_end - times.horizon_start)[pairs.request]
    occurrences = -(-horizon // (7 * DAY_SECONDS)) + 1
    bound = pairs.shared_slots * (SLOT_MINUTES * 60) * occurrences
    return _availability_component(columns.needed_seconds[pairs.request], bound)


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


@dataclass(frozen=True)
class _TimeResults:
    """Outcome of the exact time check; pairs not checked count as not passing."""

    passes: NDArray[np.bool_]
    total_seconds: NDArray[np.int64]
    first_start: NDArray[np.int64]
    first_end: NDArray[np.int64]


def _check_time(
    index: VolunteerIndex,
    columns: _RequestColumns,
    pair_request: NDArray[np.int64],
    pair_rows: Rows,
    partial: NDArray[np.float64],
    upper: NDArray[np.float64],
    sort_key: NDArray[np.float64],
    min_seconds: int,
    top_k: int,
    weights: Weights,
) -> _TimeResults:
    """The exact time check, for all requests at once, best possible scores first.

    Pairs (``pair_request``, ``pair_rows``) are sorted by ``sort_key``: by request and, within
    a request, by decreasing ``upper`` (the best score the pair can have). Each round checks the next chunk of every
    request not finished yet in one vectorised call; a request is finished when its unchecked
    pairs cannot beat its ``top_k``-th best checked pair. The next chunk is twice the last one,
    or fewer when fewer unchecked pairs could still beat that ``top_k``-th best.
    """
    count = pair_rows.size
    requests = columns.locale_id.size
    results = _TimeResults(
        passes=np.zeros(count, dtype=bool),
        total_seconds=np.zeros(count, dtype=np.int64),
        first_start=np.full(count, -1, dtype=np.int64),
        first_end=np.full(count, -1, dtype=np.int64),
    )
    exact = np.full(count, -np.inf)
    segment_end = np.searchsorted(pair_request, np.arange(requests), "right")
    segment_start = np.searchsorted(pair_request, np.arange(requests), "left")
    next_pair = segment_start.copy()
    chunk = np.full(requests, max(2 * top_k, 16), dtype=np.int64)
    pending = np.flatnonzero(segment_end > next_pair)
    while pending.size:
        counts = np.minimum(chunk[pending], segment_end[pending] - next_pair[pending])
        run_start = np.cumsum(counts) - counts
        batch = np.repeat(next_pair[pending] - run_start, counts) + np.arange(int(counts.sum()))
        rows = pair_rows[batch]
        overlap = vector_overlap(
            np.take(index.window_start, rows, axis=0),  # faster than [] for 2-d rows
            np.take(index.window_end, rows, axis=0),
            index.timezone_id[rows],
            index.timezones.codes,
            pair_request[batch],
            columns.times,
            min_seconds,
        )
        ok = overlap.longest_seconds >= min_seconds
        results.passes[batch] = ok
        results.total_seconds[batch] = overlap.total_seconds
        results.first_start[batch] = overlap.first_start
        results.first_end[batch] = overlap.first_end
        availability = _availability_component(
            columns.needed_seconds[pair_request[batch]], overlap.total_seconds
        )
        exact[batch] = np.where(ok, partial[batch] + weights.availability * availability, -np.inf)
        next_pair[pending] += counts

        # The top_k-th best exact score of each pending request so far (-inf if fewer pass).
        # Checked pairs of pending requests are the start of their segments: look at those
        # only, not at every pair of the batch.
        checked_counts = next_pair[pending] - segment_start[pending]
        checked_run_start = np.cumsum(checked_counts) - checked_counts
        checked = np.repeat(segment_start[pending] - checked_run_start, checked_counts)
        checked += np.arange(checked.size)
        found = checked[results.passes[checked]]
        order = found[np.lexsort((-exact[found], pair_request[found]))]
        rank = np.arange(order.size) - np.searchsorted(pair_request[order], pair_request[order])
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
    return results


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
        return [Unmatched(r.request_id, [{"code": "no_volunteers"}]) for r in requests]
    prepared = prepare_many(requests, index, now, weights)
    columns = _RequestColumns.of(prepared)
    pairs = _cheap_constraints(prepared, index, columns)
    mode = np.where(np.isnan(pairs.distance), REMOTE, IN_PERSON).astype(np.int8)
    components = _static_components(
        index, columns, pairs.request, pairs.rows, mode, pairs.distance, pairs.best_rank, weights
    )
    # Best possible scores: availability at its bound from the bitmaps.
    partial = _weighted_sum({**components, "availability": np.zeros(pairs.rows.size)}, weights)
    upper = partial + weights.availability * _availability_bound(columns, pairs)
    del components  # worked out again below for the few pairs that are kept
    order = _by_request_then_descending(pairs.request, upper, len(prepared))
    request, rows = pairs.request[order], pairs.rows[order]
    partial, upper = partial[order], upper[order]
    sort_key = _order_key(request, upper, weights)
    min_seconds = int(weights.min_overlap_minutes * 60)
    time = _check_time(
        index, columns, request, rows, partial, upper, sort_key, min_seconds, top_k, weights
    )

    # Each request's best top_k among the pairs that passed the time check.
    passed = np.flatnonzero(time.passes)
    kept = pairs.take(order[passed])
    mode = mode[order[passed]]
    components = _static_components(
        index, columns, kept.request, kept.rows, mode, kept.distance, kept.best_rank, weights
    )
    components["availability"] = _availability_component(
        columns.needed_seconds[kept.request], time.total_seconds[passed]
    )
    score = _weighted_sum(components, weights)
    ranked = np.lexsort((kept.rows, -score, kept.request))
    rank = np.arange(ranked.size) - np.searchsorted(kept.request[ranked], kept.request[ranked])
    best = ranked[rank < top_k]
    evaluations = _evaluations(
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
        time.first_start[passed][best],
        time.first_end[passed][best],
        score[best],
    )
    unmatched = [
        p for p, evaluation in zip(prepared, evaluations, strict=True) if not len(evaluation)
    ]
    explained = iter(_explain_many(unmatched, index))
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


def compile_kernels() -> None:
    """Run the compiled loops once on a made-up pair, so a first batch does not wait for them.

    Numba compiles them on first use (about two seconds) and keeps the result on disk.
    """
    now = datetime.datetime(2026, 1, 5, 8, tzinfo=datetime.UTC)
    windows = (WeeklyWindow("tue", datetime.time(10), datetime.time(12)),)
    index = VolunteerIndex(initial_rows=1)
    index.add(
        Volunteer(
            volunteer_id=UUID(int=1),
            locale="en",
            languages=(LanguageLevel("en", "fluent"),),
            skills=frozenset({"paperwork"}),
            lat=52.5,
            lon=19.7,
            max_travel_km=10.0,
            remote_ok=True,
            availability=windows,
            timezone="UTC",
            capacity=1,
            active_matches=0,
        )
    )
    request = Request(
        request_id=UUID(int=2),
        beneficiary_locale="en",
        languages=("en",),
        skills=frozenset({"paperwork"}),
        lat=52.5,
        lon=19.7,
        remote_ok=False,
        windows=windows,
        timezone="UTC",
        urgency="normal",
        needed_by=datetime.date(2026, 1, 9),
        submitted_at=now,
    )
    score_batch([request], index, now)
