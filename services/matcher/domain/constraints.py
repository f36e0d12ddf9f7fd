"""Hard constraints: which (request, volunteer) pairs may work together at all.

The constraints are applied in this order, which is also the funnel that explains an
unmatched request (``shared.vocabulary.CONSTRAINT_CODES``):

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

They are checked over flat arrays of (request, row) pairs in loops compiled by Numba
(``_stage_kernel`` here, the exact time check in ``availability``); the tests check both
against a plain per-pair reference (``tests/matcher_reference.py``).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.availability import (
    MIN_SHARED_SLOTS,
    Horizon,
    RequestTimes,
    VectorOverlap,
    concrete_intervals,
    concrete_intervals_flat,
    planning_horizon,
    request_bitmap,
    request_bitmaps,
)
from services.matcher.domain.index import EARTH_RADIUS_KM, Rows, VolunteerIndex
from services.matcher.domain.model import DEFAULT_WEIGHTS, Request, Weights

# Why a pair fails: the failed constraint's position in ``shared.vocabulary.CONSTRAINT_CODES``
# plus one (the order they are checked in); 0 means it passes.
PASSED = 0
OUT_OF_REACH = 1
NO_SHARED_LANGUAGE = 2
MISSING_SKILL = 3
PREVIOUSLY_OFFERED = 4
NO_CAPACITY = 5
NO_TIME_OVERLAP = 6

# How a pair would work together.
NOT_REACHABLE, IN_PERSON, REMOTE = 0, 1, 2


def locale_language(locale: str) -> str:
    """The language part of a locale: ``"uk-UA"`` and ``"uk_UA"`` give ``"uk"``."""
    return locale.replace("_", "-").split("-")[0].lower()


def language_order(request: Request) -> list[str]:
    """The request's languages, the beneficiary's locale language first (ties go to it)."""
    codes = list(dict.fromkeys(code.lower() for code in request.languages))
    own = locale_language(request.beneficiary_locale)
    if own in codes:
        codes.remove(own)
        codes.insert(0, own)
    return codes


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
        codes = language_order(request)
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
    ``RequestColumns``) and index row ``rows[p]`` (the index's columns). Fills the pair's
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
class RequestColumns:
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
    def of(cls, prepared: Sequence[PreparedRequest]) -> RequestColumns:
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


@dataclass(frozen=True)
class Funnel:
    """Per pair: how it would work, its best shared level, its first failed constraint.

    ``stage`` is ``PASSED`` where every constraint checked so far passes; ``shared_slots``
    is set where the weekly bitmaps were compared.
    """

    mode: NDArray[np.int8]
    distance: NDArray[np.float64]
    best_rank: NDArray[np.uint8]
    stage: NDArray[np.int8]
    shared_slots: NDArray[np.int64]


def run_funnel(
    columns: RequestColumns,
    index: VolunteerIndex,
    pair_request: NDArray[np.int64],
    rows: Rows,
    distance: NDArray[np.float64] | None = None,
) -> Funnel:
    """Every constraint but the exact time check, for pairs (``pair_request``, ``rows``).

    ``distance`` may carry the reach already known: in person where a distance is given,
    remotely where it is nan.
    """
    count = rows.size
    funnel = Funnel(
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


def constraint_stages(
    columns: RequestColumns,
    number: int,
    index: VolunteerIndex,
    rows: Rows,
    distance: NDArray[np.float64] | None = None,
    min_seconds: int = int(DEFAULT_WEIGHTS.min_overlap_minutes * 60),
) -> tuple[Funnel, VectorOverlap]:
    """Every constraint for every row against request ``number`` of ``columns``.

    Returns the ``Funnel`` with the exact time check done (its ``stage`` final) and the
    overlap of every row (zero where the time check did not run). ``distance`` may carry
    the reach already known (see ``run_funnel``).
    """
    request = np.full(rows.size, number, dtype=np.int64)
    funnel = run_funnel(columns, index, request, rows, distance)
    stage = funnel.stage
    # The exact time check, only for rows that pass everything else and the weekly bitmap
    # (which never rejects a pair that really shares an hour).
    checked = np.flatnonzero(stage == PASSED)
    checked_overlap = index.time_overlap(
        rows[checked], request[checked], columns.times, min_seconds
    )
    overlap = VectorOverlap.none(rows.size)
    overlap.put(checked, checked_overlap)
    stage[checked[checked_overlap.longest_seconds < min_seconds]] = NO_TIME_OVERLAP
    return funnel, overlap
