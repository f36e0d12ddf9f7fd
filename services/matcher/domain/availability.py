"""When a volunteer and a beneficiary are both free: weekly windows laid onto concrete dates.

Each side's weekly windows are in its own IANA time zone. They are turned into concrete UTC
intervals for every date of the planning horizon (from ``now`` to the end of the request's
``needed_by`` day in the request's time zone, at most ``MAX_HORIZON_DAYS`` ahead), so a
daylight-saving change inside the horizon moves the windows on the dates after it only.

A local time that does not exist (the hour skipped in spring) or exists twice (the hour
repeated in autumn) is read the way ``zoneinfo`` reads it with ``fold=0``: with the UTC offset
in force before the change.

Shared time is worked out over many (volunteer, request) pairs at once (``vector_overlap``,
compiled with Numba); the tests check it against a plain per-pair reference
(``tests/matcher_reference.py``), which lays windows out with ``concrete_intervals`` as here.
A 15-minute weekly bitmap in UTC (``request_bitmap``, ``volunteer_bitmap``) gives a cheap
pre-filter that never rejects a pair that really overlaps.

All instants are whole seconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numba
import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.model import WeeklyWindow
from shared.vocabulary import DAYS

MAX_HORIZON_DAYS = 56
"""Matching looks at most eight weeks ahead; a request due later is matched on those weeks."""

DAY_SECONDS = 86_400
MINUTES_PER_DAY = 1_440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
SLOT_MINUTES = 15
SLOTS_PER_WEEK = MINUTES_PER_WEEK // SLOT_MINUTES  # 672
BITMAP_WORDS = (SLOTS_PER_WEEK + 63) // 64  # 11
MIN_SHARED_SLOTS = 4
"""An hour of shared time touches at least four 15-minute slots on both sides."""

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; weeks here start on Monday
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_UTC = datetime.UTC

Interval = tuple[int, int]


@dataclass(frozen=True)
class Horizon:
    """The planning horizon ``[start, end)`` in UTC seconds; empty when ``end <= start``."""

    start: int
    end: int


@dataclass(frozen=True)
class VectorOverlap:
    """Shared time of many (volunteer, request) pairs within each request's horizon.

    ``longest_seconds`` is the longest uninterrupted stretch; ``first_start``/``first_end`` the
    first stretch at least the minimum long (UTC), -1 if none.
    """

    total_seconds: NDArray[np.int64]
    longest_seconds: NDArray[np.int64]
    first_start: NDArray[np.int64]
    first_end: NDArray[np.int64]

    @classmethod
    def none(cls, count: int) -> VectorOverlap:
        """``count`` pairs sharing no time (also what pairs not checked are given)."""
        return cls(
            np.zeros(count, dtype=np.int64),
            np.zeros(count, dtype=np.int64),
            np.full(count, -1, dtype=np.int64),
            np.full(count, -1, dtype=np.int64),
        )

    def put(self, at: NDArray[np.int64], part: VectorOverlap) -> None:
        """Write the overlap of pairs checked apart (``part``) into positions ``at``."""
        self.total_seconds[at] = part.total_seconds
        self.longest_seconds[at] = part.longest_seconds
        self.first_start[at] = part.first_start
        self.first_end[at] = part.first_end


# --- shared helpers -------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; raises ``ZoneInfoNotFoundError`` for an unknown name."""
    return ZoneInfo(name)


def minute_of_day(value: datetime.time) -> int:
    return value.hour * 60 + value.minute


def planning_horizon(
    now: datetime.datetime,
    needed_by: datetime.date,
    timezone: str,
    max_days: int = MAX_HORIZON_DAYS,
) -> Horizon:
    """From ``now`` to the end of ``needed_by`` (in ``timezone``), at most ``max_days`` long."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    start = int(now.timestamp() // 1)
    end = min(_end_of_day(needed_by, timezone), start + max_days * DAY_SECONDS)
    return Horizon(start, max(start, end))


@lru_cache(maxsize=4096)
def _end_of_day(day: datetime.date, timezone: str) -> int:
    """The instant the day after ``day`` starts in ``timezone`` (requests share a few dates)."""
    day_after = day + datetime.timedelta(days=1)
    midnight = datetime.datetime.combine(day_after, datetime.time(0), tzinfo=zone(timezone))
    return int(midnight.timestamp())


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals; overlapping or touching ones become one."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def weekly_minutes(windows: Sequence[WeeklyWindow]) -> list[Interval]:
    """Windows as merged ``[start, end)`` minutes of the week (Monday 00:00 = 0), local time."""
    intervals = []
    for window in windows:
        day_start = DAYS.index(window.day) * MINUTES_PER_DAY
        start, end = minute_of_day(window.start), minute_of_day(window.end)
        if end > start:
            intervals.append((day_start + start, day_start + end))
    return merge_intervals(intervals)


def _local_date(instant: int, tz: ZoneInfo) -> datetime.date:
    return datetime.datetime.fromtimestamp(instant, tz=tz).date()


def _date_range(horizon: Horizon, tz: ZoneInfo) -> tuple[datetime.date, datetime.date]:
    """Local dates whose windows can reach into the horizon (a day of margin either side)."""
    one_day = datetime.timedelta(days=1)
    return _local_date(horizon.start, tz) - one_day, _local_date(horizon.end, tz) + one_day


# --- one owner at a time -------------------------------------------------------------------


def concrete_intervals(
    windows: Sequence[WeeklyWindow], timezone: str, horizon: Horizon
) -> list[Interval]:
    """The weekly windows on every date of the horizon, in UTC, clipped to it and merged.

    Overlapping windows are merged in local time first, so a window ending in the hour
    skipped in spring cannot stretch another one.
    """
    if horizon.end <= horizon.start:
        return []
    tz = zone(timezone)
    by_weekday: dict[int, list[Interval]] = {}
    for start, end in weekly_minutes(windows):
        weekday, start_minute = divmod(start, MINUTES_PER_DAY)
        by_weekday.setdefault(weekday, []).append((start_minute, end % MINUTES_PER_DAY))
    first, last = _date_range(horizon, tz)
    intervals: list[Interval] = []
    day = first
    while day <= last:
        for start_minute, end_minute in by_weekday.get(day.weekday(), []):
            start = _instant(day, start_minute, tz)
            end = _instant(day, end_minute, tz)
            start, end = max(start, horizon.start), min(end, horizon.end)
            if end > start:
                intervals.append((start, end))
        day += datetime.timedelta(days=1)
    return merge_intervals(intervals)


def _instant(day: datetime.date, minute: int, tz: ZoneInfo) -> int:
    local = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), tzinfo=tz)
    return int(local.timestamp())


def describe_slot(slot: Interval, timezone: str) -> dict[str, Any]:
    """A slot in the given time zone's wall-clock time, as reason parameters."""
    tz = zone(timezone)
    start = datetime.datetime.fromtimestamp(slot[0], tz=tz)
    end = datetime.datetime.fromtimestamp(slot[1], tz=tz)
    return {
        "day": DAYS[start.weekday()],
        "date": start.date().isoformat(),
        "start": f"{start.hour:02d}:{start.minute:02d}",  # as %H:%M, without strftime's cost
        "end": f"{end.hour:02d}:{end.minute:02d}",
    }


# --- the vectorised implementation ----------------------------------------------------------


@lru_cache(maxsize=512)
def _offset_table(
    timezone: str, first_year: int, last_year: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """UTC offsets of ``timezone`` as a step function of LOCAL wall-clock seconds.

    Returns ``(thresholds, offsets)``: a wall-clock time ``t`` (seconds since the epoch, as if
    the local clock were UTC) has offset ``offsets[searchsorted(thresholds, t, "right")]``.
    A change at instant ``T`` from offset ``a`` to ``b`` has threshold ``T + max(a, b)``: the
    repeated hour (autumn) and the skipped hour (spring) both keep the old offset, as
    ``fold=0`` does.
    """
    tz = zone(timezone)

    def offset_at(instant: int) -> int:
        delta = datetime.datetime.fromtimestamp(instant, tz=tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    begin = int(datetime.datetime(first_year - 1, 12, 20, tzinfo=_UTC).timestamp())
    finish = int(datetime.datetime(last_year + 1, 1, 12, tzinfo=_UTC).timestamp())
    thresholds: list[int] = []
    offsets = [offset_at(begin)]
    for day_start in range(begin, finish, DAY_SECONDS):
        next_offset = offset_at(day_start + DAY_SECONDS)
        if next_offset == offsets[-1]:
            continue
        low, high = day_start, day_start + DAY_SECONDS  # old offset at low, new at high
        while high - low > 1:
            middle = (low + high) // 2
            if offset_at(middle) == offsets[-1]:
                low = middle
            else:
                high = middle
        thresholds.append(high + max(offsets[-1], next_offset))
        offsets.append(next_offset)
    return np.array(thresholds, dtype=np.int64), np.array(offsets, dtype=np.int64)


_OffsetTable = tuple[NDArray[np.int64], NDArray[np.int64]]


def _offsets_between(low: int, high: int, timezone: str) -> _OffsetTable:
    """``_offset_table`` covering wall-clock seconds from ``low`` to ``high``."""
    first_year = datetime.datetime.fromtimestamp(low, tz=_UTC).year
    last_year = datetime.datetime.fromtimestamp(high, tz=_UTC).year
    return _offset_table(timezone, first_year, last_year)


def _to_utc(wall_clock: NDArray[np.int64], table: _OffsetTable) -> NDArray[np.int64]:
    thresholds, offsets = table
    result: NDArray[np.int64] = (
        wall_clock - offsets[np.searchsorted(thresholds, wall_clock, "right")]
    )
    return result


def local_to_utc(wall_clock: NDArray[np.int64], timezone: str) -> NDArray[np.int64]:
    """Wall-clock seconds in ``timezone`` to UTC seconds (as ``zoneinfo`` with ``fold=0``)."""
    if wall_clock.size == 0:
        return wall_clock.copy()
    table = _offsets_between(int(wall_clock.min()), int(wall_clock.max()), timezone)
    return _to_utc(wall_clock, table)


@dataclass(frozen=True)
class RequestTimes:
    """Concrete intervals and horizons of many requests, laid out once for ``vector_overlap``."""

    horizons: tuple[Horizon, ...]
    horizon_start: NDArray[np.int64]
    horizon_end: NDArray[np.int64]
    interval_request: NDArray[np.int64]  # request of each interval; sorted
    interval_start: NDArray[np.int64]  # each request's intervals sorted and disjoint
    interval_end: NDArray[np.int64]
    bitmap: NDArray[np.uint64]  # (request, word): ``request_bitmap`` of each
    # Zone name -> ``_day_span`` of every request's horizon in that zone, worked out once.
    _day_spans: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def day_spans(self, timezone: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Each request's ``_day_span`` in ``timezone``: (first dates, numbers of dates)."""
        spans = self._day_spans.get(timezone)
        if spans is None:
            distinct = {horizon: _day_span(horizon, timezone) for horizon in set(self.horizons)}
            first_day, day_count = zip(*(distinct[h] for h in self.horizons), strict=True)
            spans = self._day_spans[timezone] = (
                np.array(first_day, dtype=np.int64),
                np.array(day_count, dtype=np.int64),
            )
        return spans

    @classmethod
    def of(
        cls,
        intervals: Sequence[Sequence[Interval] | NDArray[np.int64]],
        horizons: Sequence[Horizon],
        bitmaps: NDArray[np.uint64] | None = None,
    ) -> RequestTimes:
        """From each request's intervals (pairs, or an ``(n, 2)`` array) and horizon.

        ``bitmaps`` are their ``request_bitmap`` rows, when known already.
        """
        parts = [np.asarray(part, dtype=np.int64).reshape(-1, 2) for part in intervals]
        sizes = [part.shape[0] for part in parts]
        flat = np.concatenate([np.zeros((0, 2), dtype=np.int64), *parts])
        interval_request = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        if bitmaps is None:
            bitmaps = request_bitmaps(interval_request, flat[:, 0], flat[:, 1], len(sizes))
        return cls(
            horizons=tuple(horizons),
            horizon_start=np.array([h.start for h in horizons], dtype=np.int64),
            horizon_end=np.array([h.end for h in horizons], dtype=np.int64),
            interval_request=interval_request,
            # Contiguous copies: the compiled overlap loop is specialised for that layout.
            interval_start=np.ascontiguousarray(flat[:, 0]),
            interval_end=np.ascontiguousarray(flat[:, 1]),
            bitmap=np.asarray(bitmaps, dtype=np.uint64).reshape(len(sizes), BITMAP_WORDS),
        )


@lru_cache(maxsize=4096)
def _day_span(horizon: Horizon, timezone: str) -> tuple[int, int]:
    """``_date_range`` as (first date in days since the epoch, number of dates).

    Cached: the requests of a batch share a handful of horizons.
    """
    first, last = _date_range(horizon, zone(timezone))
    return first.toordinal() - _EPOCH_ORDINAL, (last - first).days + 1


def _instances(
    starts: NDArray[np.int16],
    ends: NDArray[np.int16],
    timezone: str,
    horizon_of_owner: NDArray[np.int64],
    horizons: Sequence[Horizon],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Concrete UTC intervals of owners whose windows are in one time zone, not clipped.

    ``starts``/``ends`` are ``(owners, windows)`` minutes of the week, -1 where unused;
    owner ``o`` is laid onto the local dates that can reach into
    ``horizons[horizon_of_owner[o]]``. Returns ``(owner, start, end)`` for every occurrence of
    every window.
    """
    if horizon_of_owner.size and (horizon_of_owner == horizon_of_owner[0]).all():
        # One horizon (a single request): no need to sort to find the distinct ones.
        used = horizon_of_owner[:1]
        position_of_owner = np.zeros(horizon_of_owner.size, dtype=np.intp)
    else:
        used, position_of_owner = np.unique(horizon_of_owner, return_inverse=True)
    first_day = np.zeros(used.size, dtype=np.int64)
    day_count = np.zeros(used.size, dtype=np.int64)
    for position, horizon in enumerate(used.tolist()):
        first_day[position], day_count[position] = _day_span(horizons[horizon], timezone)
    owner_first_day = first_day[position_of_owner.reshape(-1)]
    owner_day_count = day_count[position_of_owner.reshape(-1)]

    owner, column = np.nonzero(starts >= 0)
    start_minute = starts[owner, column].astype(np.int64)
    end_minute = ends[owner, column].astype(np.int64)
    # Days after the owner's first date of each window's first occurrence, then every 7 days.
    first_weekday = (owner_first_day[owner] + _EPOCH_WEEKDAY) % 7
    first_occurrence = (start_minute // MINUTES_PER_DAY - first_weekday) % 7
    occurrences = np.maximum(0, -(-(owner_day_count[owner] - first_occurrence) // 7))
    window = np.repeat(np.arange(owner.size), occurrences)
    week = np.arange(window.size) - np.repeat(np.cumsum(occurrences) - occurrences, occurrences)
    midnight = (owner_first_day[owner[window]] + first_occurrence[window] + 7 * week) * DAY_SECONDS
    wall_start = midnight + (start_minute[window] % MINUTES_PER_DAY) * 60
    wall_end = midnight + (end_minute[window] % MINUTES_PER_DAY) * 60
    if window.size == 0:
        nothing = np.zeros(0, dtype=np.int64)
        return nothing, nothing, nothing
    # One offset table for both ends (a wider table gives the same offsets).
    low = int(min(wall_start.min(), wall_end.min()))
    high = int(max(wall_start.max(), wall_end.max()))
    table = _offsets_between(low, high, timezone)
    return owner[window], _to_utc(wall_start, table), _to_utc(wall_end, table)


def _merge_by_owner(
    owner: NDArray[np.int64],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    base: int,
    span: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Sort by (owner, start) and merge each owner's overlapping or touching intervals.

    Every instant lies in ``[base, base + span)``.
    """
    if owner.size == 0:
        return owner, start, end
    start_key = owner * span + (start - base)
    order = np.argsort(start_key, kind="stable")
    owner, start, end, start_key = owner[order], start[order], end[order], start_key[order]
    # Within one owner the keys grow with time; a later owner's keys are all larger.
    reach = np.maximum.accumulate(owner * span + (end - base))
    opens_group = np.ones(owner.size, dtype=bool)
    opens_group[1:] = start_key[1:] > reach[:-1]
    first_of_group = np.flatnonzero(opens_group)
    return owner[first_of_group], start[first_of_group], np.maximum.reduceat(end, first_of_group)


def weekly_matrix(
    weekly: Sequence[Sequence[Interval]],
) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Merged weekly windows of several owners as ``(owners, windows)`` matrices, -1 padded."""
    width = max([1, *(len(windows) for windows in weekly)])
    starts = np.full((len(weekly), width), -1, dtype=np.int16)
    ends = np.full((len(weekly), width), -1, dtype=np.int16)
    for owner, windows in enumerate(weekly):
        for position, (start, end) in enumerate(windows):
            starts[owner, position] = start
            ends[owner, position] = end
    return starts, ends


def concrete_intervals_many(
    windows: Sequence[Sequence[WeeklyWindow]],
    timezones: Sequence[str],
    horizons: Sequence[Horizon],
) -> list[list[Interval]]:
    """``concrete_intervals`` for many owners at once (vectorised; the same result)."""
    result: list[list[Interval]] = [[] for _ in windows]
    owner, start, end = concrete_intervals_flat(windows, timezones, horizons)
    for owner_number, interval_start, interval_end in zip(
        owner.tolist(), start.tolist(), end.tolist(), strict=True
    ):
        result[owner_number].append((interval_start, interval_end))
    return result


@lru_cache(maxsize=65_536)
def _weekly_minutes_of(windows: tuple[WeeklyWindow, ...]) -> tuple[Interval, ...]:
    """``weekly_minutes``, remembered: a request keeps its windows from batch to batch."""
    return tuple(weekly_minutes(windows))


def concrete_intervals_flat(
    windows: Sequence[Sequence[WeeklyWindow]],
    timezones: Sequence[str],
    horizons: Sequence[Horizon],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """``concrete_intervals`` of many owners as flat ``(owner, start, end)``, sorted."""
    starts, ends = weekly_matrix([_weekly_minutes_of(tuple(w)) for w in windows])
    owner = np.arange(len(windows), dtype=np.int64)
    names = sorted(set(timezones))
    timezone_ids = np.array([names.index(name) for name in timezones], dtype=np.int64)
    owners, instance_starts, instance_ends = [], [], []
    for timezone_id, name in enumerate(names):
        members = np.flatnonzero(timezone_ids == timezone_id)
        member, start, end = _instances(
            starts[members], ends[members], name, owner[members], horizons
        )
        owners.append(members[member])
        instance_starts.append(start)
        instance_ends.append(end)
    horizon_start = np.array([h.start for h in horizons], dtype=np.int64)
    horizon_end = np.array([h.end for h in horizons], dtype=np.int64)
    nothing = np.zeros(0, dtype=np.int64)
    owner = np.concatenate([nothing, *owners])
    start = np.maximum(np.concatenate([nothing, *instance_starts]), horizon_start[owner])
    end = np.minimum(np.concatenate([nothing, *instance_ends]), horizon_end[owner])
    inside = end > start
    if not inside.any():
        return nothing, nothing, nothing
    base = int(horizon_start.min())
    span = int(horizon_end.max()) - base + 1
    return _merge_by_owner(owner[inside], start[inside], end[inside], base, span)


@numba.njit(cache=True, nogil=True, inline="always")
def _wall_to_utc(
    wall: int,
    thresholds: NDArray[np.int64],
    table_start: int,
    table_end: int,
    offsets: NDArray[np.int64],
    first_offset: int,
) -> int:
    """``wall`` in UTC by one zone's offset table, as ``_to_utc``: thresholds strictly passed."""
    position = table_start
    while position < table_end and thresholds[position] <= wall:
        position += 1
    utc: int = wall - offsets[first_offset + position - table_start]
    return utc


@numba.njit(cache=True, nogil=True)
def _overlap_kernel(  # compiled; checked against the reference in tests
    starts: NDArray[np.int16],
    ends: NDArray[np.int16],
    pair_zone: NDArray[np.int64],
    pair_request: NDArray[np.int64],
    first_day: NDArray[np.int64],
    day_count: NDArray[np.int64],
    thresholds: NDArray[np.int64],
    threshold_bounds: NDArray[np.int64],
    offsets: NDArray[np.int64],
    horizon_start: NDArray[np.int64],
    horizon_end: NDArray[np.int64],
    interval_bounds: NDArray[np.int64],
    interval_start: NDArray[np.int64],
    interval_end: NDArray[np.int64],
    min_seconds: int,
    total: NDArray[np.int64],
    longest: NDArray[np.int64],
    first_start: NDArray[np.int64],
    first_end: NDArray[np.int64],
) -> None:
    """The shared time of each pair, as the per-pair reference works it out: lay out, merge,
    sweep.

    Pair ``p``'s volunteer windows are laid onto the local dates ``first_day[p]`` onwards
    (``day_count[p]`` of them, days since the epoch) and turned into UTC by the offset table
    of zone ``pair_zone[p]`` (``thresholds[threshold_bounds[z]:threshold_bounds[z + 1]]``, and
    offsets from ``offsets[threshold_bounds[z] + z]``), clipped to the request's horizon,
    merged, then swept against the request's intervals.
    """
    width = starts.shape[1]
    most_days = 0
    for p in range(day_count.size):
        most_days = max(most_days, day_count[p])
    buffer_start = np.empty(width * (most_days // 7 + 1), dtype=np.int64)
    buffer_end = np.empty_like(buffer_start)
    for p in range(starts.shape[0]):
        request, zone = pair_request[p], pair_zone[p]
        low, high = horizon_start[request], horizon_end[request]
        table_start, table_end = threshold_bounds[zone], threshold_bounds[zone + 1]
        first_offset = table_start + zone
        first_weekday = (first_day[p] + _EPOCH_WEEKDAY) % 7
        count = 0
        for w in range(width):
            start_minute = starts[p, w]
            if start_minute < 0:
                continue
            end_minute = ends[p, w]
            day = (start_minute // MINUTES_PER_DAY - first_weekday) % 7
            while day < day_count[p]:
                midnight = (first_day[p] + day) * DAY_SECONDS
                wall_start = midnight + (start_minute % MINUTES_PER_DAY) * 60
                wall_end = midnight + (end_minute % MINUTES_PER_DAY) * 60
                start = _wall_to_utc(
                    wall_start, thresholds, table_start, table_end, offsets, first_offset
                )
                end = _wall_to_utc(
                    wall_end, thresholds, table_start, table_end, offsets, first_offset
                )
                start, end = max(start, low), min(end, high)
                if end > start:
                    # Insertion keeps the buffer sorted by start (it nearly is already).
                    slot = count
                    while slot > 0 and buffer_start[slot - 1] > start:
                        buffer_start[slot] = buffer_start[slot - 1]
                        buffer_end[slot] = buffer_end[slot - 1]
                        slot -= 1
                    buffer_start[slot], buffer_end[slot] = start, end
                    count += 1
                day += 7
        # Merge overlapping or touching intervals (they can meet near a forward change).
        merged = 0
        for i in range(count):
            if merged and buffer_start[i] <= buffer_end[merged - 1]:
                buffer_end[merged - 1] = max(buffer_end[merged - 1], buffer_end[i])
            else:
                buffer_start[merged], buffer_end[merged] = buffer_start[i], buffer_end[i]
                merged += 1
        # A two-pointer sweep over both sorted interval lists.
        shared = stretch = 0
        slot_start = slot_end = -1
        i, j, j_end = 0, interval_bounds[request], interval_bounds[request + 1]
        while i < merged and j < j_end:
            start = max(buffer_start[i], interval_start[j])
            end = min(buffer_end[i], interval_end[j])
            if end > start:
                shared += end - start
                stretch = max(stretch, end - start)
                if slot_start < 0 and end - start >= min_seconds:
                    slot_start, slot_end = start, end
            if buffer_end[i] <= interval_end[j]:
                i += 1
            else:
                j += 1
        total[p], longest[p] = shared, stretch
        first_start[p], first_end[p] = slot_start, slot_end


def vector_overlap(
    starts: NDArray[np.int16],
    ends: NDArray[np.int16],
    timezone_ids: NDArray[np.integer[Any]],
    timezones: Sequence[str],
    request_of_pair: NDArray[np.int64],
    requests: RequestTimes,
    min_seconds: int,
) -> VectorOverlap:
    """The shared time of many (volunteer, request) pairs at once.

    Pair ``p`` is the volunteer whose merged weekly windows are ``starts[p]``/``ends[p]``
    (minutes of the week in local time, -1 where unused) in ``timezones[timezone_ids[p]]``,
    and the request numbered ``request_of_pair[p]`` in ``requests``. The pairs go through a
    compiled loop (Numba): the same steps as the reference, without Python's cost per pair.
    """
    count = request_of_pair.size
    result = VectorOverlap.none(count)
    if count == 0 or requests.interval_start.size == 0:
        return result
    request_of_pair = request_of_pair.astype(np.int64, copy=False)
    # Zones in use, renumbered 0.. for the kernel, and their dates for each request.
    zone_ids = timezone_ids.astype(np.int64)
    used = np.flatnonzero(np.bincount(zone_ids))
    renumbered = np.zeros(used[-1] + 1, dtype=np.int64)
    renumbered[used] = np.arange(used.size)
    pair_zone = renumbered[zone_ids]
    names = [timezones[zone_id] for zone_id in used.tolist()]
    spans = [requests.day_spans(name) for name in names]
    first_day = np.column_stack([first for first, _ in spans])  # (request, zone)
    day_count = np.column_stack([count for _, count in spans])
    low = int(first_day.min()) * DAY_SECONDS
    high = int((first_day + day_count).max() + 1) * DAY_SECONDS
    tables = [_offsets_between(low, high, name) for name in names]
    threshold_bounds = np.cumsum([0, *(len(table[0]) for table in tables)]).astype(np.int64)
    interval_bounds = np.searchsorted(
        requests.interval_request, np.arange(requests.horizon_start.size + 1)
    )
    _overlap_kernel(
        np.ascontiguousarray(starts, dtype=np.int16),
        np.ascontiguousarray(ends, dtype=np.int16),
        pair_zone,
        request_of_pair,
        first_day[request_of_pair, pair_zone],
        day_count[request_of_pair, pair_zone],
        np.concatenate([table[0] for table in tables]).astype(np.int64),
        threshold_bounds,
        np.concatenate([table[1] for table in tables]).astype(np.int64),
        requests.horizon_start,
        requests.horizon_end,
        interval_bounds,
        requests.interval_start,
        requests.interval_end,
        min_seconds,
        result.total_seconds,
        result.longest_seconds,
        result.first_start,
        result.first_end,
    )
    return result


# --- the weekly bitmap pre-filter -----------------------------------------------------------


@lru_cache(maxsize=256)
def offset_range_minutes(timezone: str) -> tuple[int, int]:
    """Smallest and largest UTC offset (minutes) of ``timezone`` this century, sampled weekly."""
    tz = zone(timezone)
    start = datetime.datetime(2000, 1, 1, 12, tzinfo=_UTC)
    offsets = set()
    for week in range(0, 100 * 53):
        delta = (start + datetime.timedelta(weeks=week)).astimezone(tz).utcoffset()
        offsets.add(int(delta.total_seconds()) // 60 if delta is not None else 0)
    return min(offsets), max(offsets)


def _bitmap_from_minutes(intervals: Sequence[Interval]) -> NDArray[np.uint64]:
    """Mark every 15-minute slot that ``[start, end)`` minutes of the week touch (wrapping)."""
    week = (1 << SLOTS_PER_WEEK) - 1
    bits = 0
    for start, end in intervals:
        if end <= start:
            continue
        first_slot = start // SLOT_MINUTES
        slots = -(-end // SLOT_MINUTES) - first_slot
        if slots >= SLOTS_PER_WEEK:
            bits = week
            break
        bits |= ((1 << slots) - 1) << (first_slot % SLOTS_PER_WEEK)
    bits = (bits & week) | (bits >> SLOTS_PER_WEEK)  # runs past Sunday midnight wrap to Monday
    words = np.frombuffer(bits.to_bytes(8 * BITMAP_WORDS, "little"), dtype="<u8")
    return words.astype(np.uint64)


def volunteer_bitmap(weekly: Sequence[Interval], timezone: str) -> NDArray[np.uint64]:
    """UTC weekly slots a volunteer may be free in, whatever the date.

    Each local window is widened to cover its position under every UTC offset the zone uses
    (so daylight-saving time and the hours around a change are all inside).
    """
    low, high = offset_range_minutes(timezone)
    return _bitmap_from_minutes([(start - high, end - low) for start, end in weekly])


def request_bitmaps(
    owner: NDArray[np.int64], start: NDArray[np.int64], end: NDArray[np.int64], count: int
) -> NDArray[np.uint64]:
    """``request_bitmap`` of ``count`` owners at once, from flat ``(owner, start, end)``.

    Returns ``(count, BITMAP_WORDS)``. Each interval marks a run of slots on a two-week axis
    (a difference array, summed up); the second week then folds onto the first.
    """
    start_minute = start // 60 + _EPOCH_WEEKDAY * MINUTES_PER_DAY
    end_minute = -(-end // 60) + _EPOCH_WEEKDAY * MINUTES_PER_DAY
    shift = (start_minute // MINUTES_PER_WEEK) * MINUTES_PER_WEEK
    start_minute, end_minute = start_minute - shift, end_minute - shift
    first_slot = start_minute // SLOT_MINUTES
    slots = -(-end_minute // SLOT_MINUTES) - first_slot
    marks = end_minute > start_minute
    whole_week = marks & (slots >= SLOTS_PER_WEEK)
    run = marks & ~whole_week
    width = 2 * SLOTS_PER_WEEK + 1
    cells = count * width
    opens = np.bincount(owner[run] * width + first_slot[run], minlength=cells)
    closes = np.bincount(owner[run] * width + first_slot[run] + slots[run], minlength=cells)
    covered = np.cumsum((opens - closes).reshape(count, width), axis=1) > 0
    week = covered[:, :SLOTS_PER_WEEK] | covered[:, SLOTS_PER_WEEK : 2 * SLOTS_PER_WEEK]
    week[owner[whole_week]] = True
    padded = np.zeros((count, 64 * BITMAP_WORDS), dtype=bool)
    padded[:, :SLOTS_PER_WEEK] = week
    packed = np.packbits(padded, axis=1, bitorder="little")
    words: NDArray[np.uint64] = packed.view("<u8").astype(np.uint64)
    return words.reshape(count, BITMAP_WORDS)


def request_bitmap(intervals: Sequence[Interval]) -> NDArray[np.uint64]:
    """UTC weekly slots touched by a request's concrete intervals."""
    week_minutes = []
    for start, end in intervals:
        start_minute = start // 60 + _EPOCH_WEEKDAY * MINUTES_PER_DAY
        end_minute = -(-end // 60) + _EPOCH_WEEKDAY * MINUTES_PER_DAY
        shift = (start_minute // MINUTES_PER_WEEK) * MINUTES_PER_WEEK
        week_minutes.append((start_minute - shift, end_minute - shift))
    return _bitmap_from_minutes(week_minutes)
