"""The matcher's in-memory volunteer index: one row per volunteer in columnar numpy arrays.

Rows are reused through a free list, so removing a volunteer costs nothing but a flag. What the
hard constraints and the score need is kept as plain columns (a level per language code,
skills as a bit mask, weekly windows as minutes of the week, a 15-minute UTC bitmap of the week
for a quick availability pre-filter), so a request's candidates are filtered and scored with a
handful of vectorised operations.

Geographic retrieval uses a grid: each group of volunteers is sorted by latitude row, then by
longitude, so everyone within a longitude range of one row is one slice of a sorted array. A
query takes, for every row its circle touches, the longitude range the haversine formula allows
there (all queries of a batch at once, with ``searchsorted``); it uses the largest reach in the
group, and callers then filter by each volunteer's own reach. Two refinements keep the returned
sets small where volunteers are dense:

- reach bands: volunteers are split by how far they travel (``reach_bands_km``), one group per
  band, so the few who travel 50 km do not widen the query for everyone else;
- skill partitions: besides the groups over everyone, each skill has its own groups over the
  volunteers who have it. A request is retrieved through the groups of its rarest needed skill
  (its "anchor"), since it needs every one of its skills anyway.

The grid is rebuilt in one batch, lazily, on the first query after enough volunteers moved,
arrived or gained a skill; until then those volunteers sit in a small side list that is scanned
linearly. Remote work is found through the ``remote_ok`` column (lists per anchor skill and
language, cached until the next change).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.availability import (
    BITMAP_WORDS,
    RequestTimes,
    VectorOverlap,
    vector_overlap,
    volunteer_bitmap,
    weekly_minutes,
)
from services.matcher.domain.model import Volunteer, level_rank

EARTH_RADIUS_KM = 6371.0088
SKILL_LIMIT = 64  # skills are one uint64 bit mask per volunteer
EVERYONE = -1  # the anchor of a request that needs no skill
DEFAULT_REACH_BANDS_KM: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0)
_GRID_MARGIN_KM = 0.001  # the bounds below may round differently from the exact check
_ROWS_PER_RADIUS = 4  # latitude rows per query radius: finer rows follow the circle closer
_ROW_KEYS = 1 << 21  # row numbers of one group stay below this (rows are at least ~10 m high)

Rows = NDArray[np.int64]


def haversine_km(
    lat1: NDArray[np.float64] | float,
    lon1: NDArray[np.float64] | float,
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
    cos_lat1: NDArray[np.float64] | float | None = None,
    cos_lat2: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Great-circle distance in km between points given in radians (haversine formula).

    The cosines of the latitudes may be passed when known (trigonometry is the costly part).
    """
    half_dlat = np.sin((lat2 - lat1) / 2.0)
    half_dlon = np.sin((lon2 - lon1) / 2.0)
    cosines = (np.cos(lat1) if cos_lat1 is None else cos_lat1) * (
        np.cos(lat2) if cos_lat2 is None else cos_lat2
    )
    a = half_dlat * half_dlat + cosines * half_dlon * half_dlon
    distance: NDArray[np.float64] = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return distance


class Vocabulary:
    """Codes (languages, skills, time zones) to dense ids, in first-seen order."""

    def __init__(self, limit: int | None = None) -> None:
        self._ids: dict[str, int] = {}
        self.codes: list[str] = []
        self._limit = limit

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: str) -> int | None:
        return self._ids.get(code)

    def add(self, code: str) -> int:
        existing = self._ids.get(code)
        if existing is not None:
            return existing
        if self._limit is not None and len(self.codes) >= self._limit:
            raise ValueError(f"more than {self._limit} distinct codes: cannot add {code!r}")
        self._ids[code] = len(self.codes)
        self.codes.append(code)
        return self._ids[code]


def _grid_key(cell: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sort key of a longitude (radians, in [-pi, pi]) in a cell (``group * _ROW_KEYS + row``).

    A cell's keys lie in ``[8 * cell, 8 * cell + 2 pi]``, apart from every other cell's, and
    rounding keeps their order, so a longitude range of one cell is a range of keys.
    """
    key: NDArray[np.float64] = cell * 8.0 + (lon + np.pi)
    return key


def _wrapped(lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Longitudes (radians) in ``[-pi, pi)``."""
    wrapped: NDArray[np.float64] = np.mod(lon + np.pi, 2.0 * np.pi) - np.pi
    return wrapped


@dataclass(frozen=True)
class _Grid:
    """Located volunteers by group (one partition's reach band), latitude row and longitude."""

    key: NDArray[np.float64]  # sorted ``_grid_key`` of every member
    rows: NDArray[np.int32]  # index row of each member (int32 halves the memory)
    radius_km: NDArray[np.float64]  # per group: its largest reach, which every query uses
    row_height: NDArray[np.float64]  # per group: radians of latitude per row
    groups: dict[int, NDArray[np.int64]]  # anchor -> its groups


_EMPTY_GRID = _Grid(np.zeros(0), np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros(0), {})


@dataclass(frozen=True)
class _Encoded:
    """A volunteer turned into column values (everything that can fail is done here)."""

    lat: float  # radians, nan without a location
    lon: float
    reach_km: float
    remote_ok: bool
    capacity: int
    active: int
    paused: bool
    skill_bits: int
    levels: dict[int, int]  # language id -> level rank
    weekly: list[tuple[int, int]]
    timezone_id: int
    bitmap: NDArray[np.uint64]


@dataclass(frozen=True)
class _Column:
    """How a per-row column is stored: value of an empty row, type, extra axis."""

    fill: Any
    dtype: Any
    width: int | None = None  # size of the second axis, for two-dimensional columns
    rows_last: bool = False  # rows on the last axis, so one entry per row is contiguous


_COLUMNS: dict[str, _Column] = {
    "alive": _Column(False, bool),
    "lat": _Column(np.nan, np.float64),
    "lon": _Column(np.nan, np.float64),
    "cos_lat": _Column(np.nan, np.float64),
    "reach_km": _Column(0.0, np.float64),
    "remote_ok": _Column(False, bool),
    "capacity": _Column(0, np.int32),
    "active": _Column(0, np.int32),
    "paused": _Column(False, bool),
    "has_room": _Column(False, bool),
    "open_language_bits": _Column(0, np.uint64),
    "skill_bits": _Column(0, np.uint64),
    "levels": _Column(0, np.uint8, width=0, rows_last=True),
    "window_start": _Column(-1, np.int16, width=4),
    "window_end": _Column(-1, np.int16, width=4),
    "timezone_id": _Column(0, np.uint16),
    "week_bitmap": _Column(0, np.uint64, width=BITMAP_WORDS, rows_last=True),
    "_in_grid": _Column(False, bool),
    "_grid_radius": _Column(0.0, np.float64),
    "_grid_skill_bits": _Column(0, np.uint64),
    "_mark": _Column(False, bool),
    "_id_high": _Column(0, np.uint64),
    "_id_low": _Column(0, np.uint64),
}


class VolunteerIndex:
    """Columnar store of the volunteers the matcher can propose, with geographic retrieval.

    Columns are public attributes with one entry per allocated row; only rows where ``alive``
    is true hold a volunteer. Treat them as read-only outside this class.
    """

    alive: NDArray[np.bool_]
    lat: NDArray[np.float64]  # radians; nan without a location
    lon: NDArray[np.float64]
    cos_lat: NDArray[np.float64]  # of ``lat``, kept for the haversine formula
    reach_km: NDArray[np.float64]
    remote_ok: NDArray[np.bool_]
    capacity: NDArray[np.int32]
    active: NDArray[np.int32]
    paused: NDArray[np.bool_]
    has_room: NDArray[np.bool_]  # alive, not paused and active < capacity
    # Bit ``language id % 64`` of every language spoken, 0 without room: one look-up rules out
    # most pairs without a shared language or without capacity (never one that has both).
    open_language_bits: NDArray[np.uint64]
    skill_bits: NDArray[np.uint64]
    levels: NDArray[np.uint8]  # (language id, row) -> level rank, 0 = not spoken
    window_start: NDArray[np.int16]  # (row, window) minutes of the week, local time; -1 unused
    window_end: NDArray[np.int16]
    timezone_id: NDArray[np.uint16]
    week_bitmap: NDArray[np.uint64]  # (word, row): UTC 15-minute slots the volunteer may be free
    _in_grid: NDArray[np.bool_]  # the row's place in the grid is current
    _grid_radius: NDArray[np.float64]  # smallest radius its groups are queried with
    _grid_skill_bits: NDArray[np.uint64]  # its skills when the grid was built
    _mark: NDArray[np.bool_]  # scratch space for set differences
    _id_high: NDArray[np.uint64]  # the volunteer's UUID, upper and lower 64 bits
    _id_low: NDArray[np.uint64]

    def __init__(
        self,
        initial_rows: int = 1024,
        reach_bands_km: Sequence[float] = DEFAULT_REACH_BANDS_KM,
        rebuild_threshold: int = 256,
        rebuild_fraction: float = 0.02,
    ) -> None:
        self.languages = Vocabulary()
        self.skills = Vocabulary(limit=SKILL_LIMIT)
        self.timezones = Vocabulary()
        self._reach_bands_km = np.array(sorted(reach_bands_km), dtype=np.float64)
        self._rebuild_threshold = rebuild_threshold
        self._rebuild_fraction = rebuild_fraction

        self._row_of: dict[int, int] = {}  # UUID as an int (smaller than UUID objects) -> row
        self._free_rows: list[int] = []
        self._used_rows = 0  # rows ever handed out; the high-water mark
        self._skill_holders: list[int] = []  # volunteers per skill id

        rows = max(initial_rows, 1)
        for name, column in _COLUMNS.items():
            shape: tuple[int, ...] = (rows,)
            if column.width is not None:
                shape = (column.width, rows) if column.rows_last else (rows, column.width)
            setattr(self, name, np.full(shape, column.fill, dtype=column.dtype))

        self._grid = _EMPTY_GRID
        self._side_rows: set[int] = set()  # located volunteers not (correctly) in the grid
        self._side_array: Rows | None = None
        self._stale_grid_rows = 0
        self._grid_size = 0
        # (anchor, language) -> remote rows; dropped on every change
        self._remote_rows: dict[tuple[int, int | None], Rows] = {}

    # --- membership -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, volunteer_id: object) -> bool:
        return isinstance(volunteer_id, UUID) and volunteer_id.int in self._row_of

    @property
    def row_count(self) -> int:
        """Rows handed out so far; every column's meaningful rows are ``[0, row_count)``."""
        return self._used_rows

    def free_slots(self) -> NDArray[np.int32]:
        """How many more matches each row's volunteer can take (rows up to ``row_count``)."""
        used = slice(0, self._used_rows)
        free: NDArray[np.int32] = np.maximum(self.capacity[used] - self.active[used], 0)
        return free

    def row_of(self, volunteer_id: UUID) -> int:
        return self._row_of[volunteer_id.int]

    def volunteer_id_at(self, row: int) -> UUID:
        if not self.alive[row]:
            raise KeyError(row)
        return UUID(int=int(self._id_high[row]) << 64 | int(self._id_low[row]))

    def rows_of(self, volunteer_ids: Iterable[UUID]) -> Rows:
        """Rows of the given volunteers that are in the index (others are ignored)."""
        rows = [self._row_of.get(v.int) for v in volunteer_ids]
        return np.array([row for row in rows if row is not None], dtype=np.int64)

    def anchor_skill(self, skill_bits: int) -> int:
        """The needed skill (id) held by the fewest volunteers; ``EVERYONE`` if none needed."""
        needed = [s for s in range(len(self.skills)) if skill_bits >> s & 1]
        if not needed:
            return EVERYONE
        return min(needed, key=lambda s: self._skill_holders[s])

    # --- changes ------------------------------------------------------------------------------

    def add(self, volunteer: Volunteer) -> None:
        if volunteer.volunteer_id.int in self._row_of:
            raise ValueError(f"volunteer {volunteer.volunteer_id} is already indexed")
        self.upsert(volunteer)

    def add_many(self, volunteers: Iterable[Volunteer]) -> None:
        for volunteer in volunteers:
            self.add(volunteer)

    def update(self, volunteer: Volunteer) -> None:
        if volunteer.volunteer_id.int not in self._row_of:
            raise KeyError(volunteer.volunteer_id)
        self.upsert(volunteer)

    def upsert(self, volunteer: Volunteer) -> None:
        """Index a full snapshot of a volunteer, replacing what was known before."""
        encoded = self._encode(volunteer)
        row = self._row_of.get(volunteer.volunteer_id.int)
        if row is None:
            row = self._allocate_row()
            self._row_of[volunteer.volunteer_id.int] = row
            self._id_high[row] = volunteer.volunteer_id.int >> 64
            self._id_low[row] = volunteer.volunteer_id.int & (1 << 64) - 1
        else:
            self._count_skills(int(self.skill_bits[row]), -1)
        moved = not (encoded.lat == self.lat[row] and encoded.lon == self.lon[row])
        self._count_skills(encoded.skill_bits, +1)
        self._ensure_width("levels", len(self.languages))
        self._ensure_width("window_start", len(encoded.weekly))
        self._ensure_width("window_end", len(encoded.weekly))

        self.alive[row] = True
        self.lat[row], self.lon[row] = encoded.lat, encoded.lon
        self.cos_lat[row] = np.cos(encoded.lat)
        self.reach_km[row] = encoded.reach_km
        self.remote_ok[row] = encoded.remote_ok
        self.capacity[row] = encoded.capacity
        self.active[row] = encoded.active
        self.paused[row] = encoded.paused
        self.has_room[row] = not encoded.paused and encoded.active < encoded.capacity
        self.skill_bits[row] = encoded.skill_bits
        self.levels[:, row] = 0
        for language_id, rank in encoded.levels.items():
            self.levels[language_id, row] = rank
        self._update_open_languages(row, encoded.levels)
        self.window_start[row] = self.window_end[row] = -1
        for position, (start, end) in enumerate(encoded.weekly):
            self.window_start[row, position] = start
            self.window_end[row, position] = end
        self.timezone_id[row] = encoded.timezone_id
        self.week_bitmap[:, row] = encoded.bitmap

        # The grid still finds the row only if it did not move, travel further or gain a skill.
        located = not math.isnan(encoded.lat)
        gained_skill = encoded.skill_bits & ~int(self._grid_skill_bits[row])
        still_found = located and not moved and not gained_skill
        still_found = still_found and encoded.reach_km <= self._grid_radius[row]
        if self._in_grid[row] and not still_found:
            self._in_grid[row] = False
            self._stale_grid_rows += 1
        if located and not self._in_grid[row]:
            self._side_rows.add(row)
        else:
            self._side_rows.discard(row)
        self._side_array = None
        self._remote_rows.clear()

    def set_load(self, volunteer_id: UUID, active_matches: int, paused: bool | None = None) -> None:
        """Record a volunteer's current number of active matches (and pause state)."""
        row = self._row_of[volunteer_id.int]
        self.active[row] = active_matches
        if paused is not None:
            self.paused[row] = paused
        self.has_room[row] = not self.paused[row] and active_matches < self.capacity[row]
        self._update_open_languages(row)

    def _update_open_languages(self, row: int, spoken: Iterable[int] | None = None) -> None:
        if spoken is None:
            spoken = np.flatnonzero(self.levels[:, row]).tolist()
        bits = 0
        if self.has_room[row]:
            for language_id in spoken:
                bits |= 1 << language_id % 64
        self.open_language_bits[row] = bits

    def remove(self, volunteer_id: UUID) -> bool:
        """Forget a volunteer (for example on erasure); False if it was not indexed."""
        row = self._row_of.pop(volunteer_id.int, None)
        if row is None:
            return False
        self._count_skills(int(self.skill_bits[row]), -1)
        if self._in_grid[row]:
            self._stale_grid_rows += 1
        for name, column in _COLUMNS.items():
            if column.rows_last:
                getattr(self, name)[:, row] = column.fill
            else:
                getattr(self, name)[row] = column.fill
        self._side_rows.discard(row)
        self._side_array = None
        self._remote_rows.clear()
        self._free_rows.append(row)
        return True

    def _encode(self, volunteer: Volunteer) -> _Encoded:
        if volunteer.capacity < 0 or volunteer.active_matches < 0:
            raise ValueError("capacity and active_matches must not be negative")
        weekly = weekly_minutes(volunteer.availability)
        bitmap = volunteer_bitmap(weekly, volunteer.timezone)  # also validates the zone
        skill_bits = 0
        for skill in volunteer.skills:
            skill_bits |= 1 << self.skills.add(skill)
        levels: dict[int, int] = {}
        for language in volunteer.languages:
            language_id = self.languages.add(language.code.lower())
            levels[language_id] = max(level_rank(language.level), levels.get(language_id, 0))
        lat = lon = math.nan
        if volunteer.lat is not None and volunteer.lon is not None:
            lat, lon = math.radians(volunteer.lat), math.radians(volunteer.lon)
        return _Encoded(
            lat=lat,
            lon=lon,
            reach_km=float(volunteer.max_travel_km),
            remote_ok=volunteer.remote_ok,
            capacity=volunteer.capacity,
            active=volunteer.active_matches,
            paused=volunteer.paused,
            skill_bits=skill_bits,
            levels=levels,
            weekly=weekly,
            timezone_id=self.timezones.add(volunteer.timezone),
            bitmap=bitmap,
        )

    def _count_skills(self, skill_bits: int, change: int) -> None:
        while len(self._skill_holders) < len(self.skills):
            self._skill_holders.append(0)
        for skill_id in range(len(self.skills)):
            if skill_bits >> skill_id & 1:
                self._skill_holders[skill_id] += change

    # --- retrieval ----------------------------------------------------------------------------

    def remote_rows(self, anchor: int = EVERYONE, languages: Sequence[int] | None = None) -> Rows:
        """Rows of volunteers who accept remote work, each once.

        With an anchor skill, only those who have it; with language ids, only those who speak
        at least one of them (at any level).
        """
        if languages is None:
            return self._remote_list(anchor, None)
        parts = [np.zeros(0, dtype=np.int64)]
        for position, language in enumerate(languages):
            rows = self._remote_list(anchor, language)
            for earlier in languages[:position]:  # already found through an earlier language
                rows = rows[self.levels[earlier][rows] == 0]
            parts.append(rows)
        return np.concatenate(parts)

    def _remote_list(self, anchor: int, language: int | None) -> Rows:
        rows = self._remote_rows.get((anchor, language))
        if rows is None:
            used = slice(0, self._used_rows)
            remote = self.alive[used] & self.remote_ok[used]
            if anchor != EVERYONE:
                remote &= (self.skill_bits[used] >> np.uint64(anchor)) & np.uint64(1) == 1
            if language is not None:
                remote &= self.levels[language, used] > 0
            rows = self._remote_rows[(anchor, language)] = np.flatnonzero(remote)
        return rows

    def remote_rows_except(
        self, rows: Rows, anchor: int = EVERYONE, languages: Sequence[int] | None = None
    ) -> Rows:
        """``remote_rows(anchor, languages)`` without the given rows (found in person)."""
        return self.rows_except(self.remote_rows(anchor, languages), rows)

    def rows_except(self, rows: Rows, excluded: Rows) -> Rows:
        """``rows`` without those in ``excluded``, in order (no sorting, unlike ``setdiff1d``)."""
        if excluded.size == 0:
            return rows
        self._mark[excluded] = True
        rest = rows[~self._mark[rows]]
        self._mark[excluded] = False
        return rest

    def time_overlap(
        self, rows: Rows, request_of_row: NDArray[np.int64], times: RequestTimes, min_seconds: int
    ) -> VectorOverlap:
        """The exact shared time of each row's volunteer and its request (``vector_overlap``)."""
        return vector_overlap(
            np.take(self.window_start, rows, axis=0),  # faster than [] for 2-d rows
            np.take(self.window_end, rows, axis=0),
            self.timezone_id[rows],
            self.timezones.codes,
            request_of_row,
            times,
            min_seconds,
        )

    def in_person_rows(
        self, lat: float, lon: float, anchor: int = EVERYONE
    ) -> tuple[Rows, NDArray[np.float64]]:
        """Volunteers whose own reach covers the point (degrees), with their distance in km.

        With an anchor skill only volunteers having that skill are returned.
        """
        return self.in_person_rows_many(np.array([lat]), np.array([lon]), [anchor])[0]

    def in_person_rows_many(
        self,
        lats: NDArray[np.float64],
        lons: NDArray[np.float64],
        anchors: Sequence[int] | None = None,
    ) -> list[tuple[Rows, NDArray[np.float64]]]:
        """``in_person_rows`` for many points (degrees) at once (one grid lookup)."""
        if len(lats) == 0:
            return []
        point, rows = self.nearby_pairs(lats, lons, anchors)
        lat, lon = np.radians(np.asarray(lats)), np.radians(np.asarray(lons))
        distance = haversine_km(
            lat[point],
            lon[point],
            self.lat[rows],
            self.lon[rows],
            np.cos(lat)[point],
            self.cos_lat[rows],
        )
        reachable = distance <= self.reach_km[rows]
        point, rows, distance = point[reachable], rows[reachable], distance[reachable]
        bounds = np.searchsorted(point, np.arange(1, len(lat))).tolist()
        return list(zip(np.split(rows, bounds), np.split(distance, bounds), strict=True))

    def nearby_rows_many(
        self,
        lats: NDArray[np.float64],
        lons: NDArray[np.float64],
        anchors: Sequence[int] | None = None,
    ) -> list[Rows]:
        """For each point (degrees), rows that may have it within their reach, each once.

        A superset of ``in_person_rows_many``: everyone the grid finds within their group's
        largest reach (plus the side list), not yet checked against their own reach. Callers
        that filter on other constraints first check the distance on fewer rows.
        """
        if len(lats) == 0:
            return []
        point, rows = self.nearby_pairs(lats, lons, anchors)
        return np.split(rows, np.searchsorted(point, np.arange(1, len(lats))).tolist())

    def nearby_pairs(
        self,
        lats: NDArray[np.float64],
        lons: NDArray[np.float64],
        anchors: Sequence[int] | None = None,
    ) -> tuple[NDArray[np.int64], Rows]:
        """``nearby_rows_many`` as flat ``(point, row)`` arrays, sorted by point."""
        self._rebuild_if_needed()
        lat, lon = np.radians(np.asarray(lats, dtype=np.float64)), np.radians(lons)
        point_anchors = np.full(lat.size, EVERYONE) if anchors is None else np.asarray(anchors)
        point, rows = self._grid_pairs(lat, _wrapped(lon), point_anchors)
        current = self._in_grid[rows]  # moved or removed rows are in the side list
        point, rows = point[current], rows[current]
        side = self._side_rows_array()
        if side.size == 0:
            return point, rows
        points, found = [point], [rows]
        for anchor in np.unique(point_anchors).tolist():
            positions = np.flatnonzero(point_anchors == anchor)
            side_rows = side
            if anchor != EVERYONE:
                has_anchor = (self.skill_bits[side] >> np.uint64(anchor)) & np.uint64(1) == 1
                side_rows = side[has_anchor]
            points.append(np.repeat(positions, side_rows.size))
            found.append(np.tile(side_rows, positions.size))
        point, rows = np.concatenate(points), np.concatenate(found)
        order = np.argsort(point, kind="stable")
        return point[order], rows[order]

    def _grid_pairs(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64], point_anchors: NDArray[Any]
    ) -> tuple[NDArray[np.int64], Rows]:
        """Grid members near each point (radians), as ``(point, row)`` sorted by point."""
        grid = self._grid
        # Every (point, group of its anchor) is a query.
        group_lists = [
            grid.groups.get(int(anchor), np.zeros(0, dtype=np.int64))
            for anchor in point_anchors.tolist()
        ]
        group_counts = np.array([groups.size for groups in group_lists], dtype=np.int64)
        if not group_counts.sum():
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing
        query_point = np.repeat(np.arange(lat.size), group_counts)
        query_group = np.concatenate(group_lists)
        radius = (grid.radius_km[query_group] + _GRID_MARGIN_KM) / EARTH_RADIUS_KM
        height = grid.row_height[query_group]
        last_row = np.floor(np.pi / height)
        query_lat = lat[query_point]
        first = np.clip(np.floor((query_lat - radius + np.pi / 2) / height), 0, last_row)
        last = np.clip(np.floor((query_lat + radius + np.pi / 2) / height), 0, last_row)
        row_counts = (last - first).astype(np.int64) + 1

        # Every (query, latitude row) it touches: the longitudes that can be within the radius.
        query = np.repeat(np.arange(query_point.size), row_counts)
        row = first[query] + (
            np.arange(query.size) - np.repeat(np.cumsum(row_counts) - row_counts, row_counts)
        )
        height, radius, query_lat = height[query], radius[query], query_lat[query]
        south = row * height - np.pi / 2
        north = south + height
        # hav(d) = hav(dlat) + cos(lat1) cos(lat2) hav(dlon): in this row hav(dlat) is at least
        # that of the row's nearest latitude, and cos(lat2) at least that of its farthest from
        # the equator; so hav(dlon) is at most ``room / cosines``.
        nearest = np.maximum(0.0, np.maximum(south - query_lat, query_lat - north))
        room = np.sin(radius / 2) ** 2 - np.sin(nearest / 2) ** 2
        polar = np.minimum(np.maximum(np.abs(south), np.abs(north)), np.pi / 2)
        cosines = np.cos(query_lat) * np.cos(polar)
        with np.errstate(divide="ignore", invalid="ignore"):
            hav_dlon = np.where(cosines > 1e-12, room / cosines, np.inf)
        half_width = 2.0 * np.arcsin(np.sqrt(np.clip(hav_dlon, 0.0, 1.0)))
        half_width = half_width * (1.0 + 1e-9) + 1e-12  # rounding in the bound itself
        whole = (hav_dlon >= 1.0) | (half_width >= np.pi)
        query_lon = lon[query_point[query]]
        west = np.where(whole, -np.pi, np.maximum(query_lon - half_width, -np.pi))
        east = np.where(whole, np.pi, np.minimum(query_lon + half_width, np.pi))
        # The part of the range across the antimeridian, if any (else an empty range).
        below = ~whole & (query_lon - half_width < -np.pi)
        above = ~whole & (query_lon + half_width > np.pi)
        wrap_west = np.where(
            below, query_lon - half_width + 2 * np.pi, np.where(above, -np.pi, np.pi)
        )
        wrap_east = np.where(
            above, query_lon + half_width - 2 * np.pi, np.where(below, np.pi, -np.pi)
        )
        cell = (query_group[query] * _ROW_KEYS + row).astype(np.float64)
        empty = room < 0  # the whole row is out of reach
        lows = np.column_stack([_grid_key(cell, west), _grid_key(cell, wrap_west)])
        highs = np.column_stack([_grid_key(cell, east), _grid_key(cell, wrap_east)])
        starts = np.searchsorted(grid.key, lows.ravel(), "left")
        ends = np.searchsorted(grid.key, highs.ravel(), "right")
        lengths = np.maximum(ends - starts, 0)
        lengths[np.repeat(empty, 2)] = 0
        position = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(
            int(lengths.sum())
        )
        point = np.repeat(query_point[np.repeat(query, 2)], lengths)
        return point, grid.rows[position].astype(np.int64)

    def _side_rows_array(self) -> Rows:
        if self._side_array is None:
            self._side_array = np.array(sorted(self._side_rows), dtype=np.int64)
        return self._side_array

    def _rebuild_if_needed(self) -> None:
        pending = len(self._side_rows) + self._stale_grid_rows
        limit = max(self._rebuild_threshold, int(self._rebuild_fraction * self._grid_size))
        if pending > limit:
            self.rebuild()

    def rebuild(self) -> None:
        """Rebuild the grid from the located volunteers (one batch)."""
        used = slice(0, self._used_rows)
        located = np.flatnonzero(self.alive[used] & ~np.isnan(self.lat[used]))
        self._in_grid[:] = False
        self._grid_radius[:] = 0.0
        self._grid_radius[located] = np.inf
        self._grid_skill_bits[:] = 0
        self._grid_skill_bits[located] = self.skill_bits[located]
        partitions = [(EVERYONE, located)]
        for skill_id in range(len(self.skills)):
            has_skill = (self.skill_bits[located] >> np.uint64(skill_id)) & np.uint64(1) == 1
            partitions.append((skill_id, located[has_skill]))
        groups: dict[int, NDArray[np.int64]] = {}
        radii: list[float] = []
        heights: list[float] = []
        keys, members = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
        for anchor, partition in partitions:
            first_group = len(radii)
            band_of_member = np.searchsorted(self._reach_bands_km, self.reach_km[partition], "left")
            for band in np.unique(band_of_member):
                rows = partition[band_of_member == band]
                radius_km = float(self.reach_km[rows].max())
                # Rows a quarter of the radius high, but never so many that keys collide.
                height = max(radius_km / EARTH_RADIUS_KM / _ROWS_PER_RADIUS, 4 * np.pi / _ROW_KEYS)
                row = np.floor((self.lat[rows] + np.pi / 2) / height)
                cell = (len(radii) * _ROW_KEYS + row).astype(np.float64)
                keys.append(_grid_key(cell, _wrapped(self.lon[rows])))
                members.append(rows)
                radii.append(radius_km)
                heights.append(height)
                self._grid_radius[rows] = np.minimum(self._grid_radius[rows], radius_km)
            groups[anchor] = np.arange(first_group, len(radii), dtype=np.int64)
        key = np.concatenate(keys)
        order = np.argsort(key, kind="stable")
        self._grid = _Grid(
            key=key[order],
            rows=np.concatenate(members)[order].astype(np.int32),
            radius_km=np.array(radii, dtype=np.float64),
            row_height=np.array(heights, dtype=np.float64),
            groups=groups,
        )
        self._in_grid[located] = True
        self._side_rows.clear()
        self._side_array = None
        self._stale_grid_rows = 0
        self._grid_size = int(located.size)

    # --- size -------------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """Bytes held by the index: columns, grid and the id maps (approximate for those)."""
        total: int = sum(getattr(self, name).nbytes for name in _COLUMNS)
        grid = self._grid
        total += grid.key.nbytes + grid.rows.nbytes + grid.radius_km.nbytes
        total += grid.row_height.nbytes + sum(groups.nbytes for groups in grid.groups.values())
        # The id map: its slots and the int keys.
        total += sys.getsizeof(self._row_of) + sum(sys.getsizeof(key) for key in self._row_of)
        return total

    # --- storage ------------------------------------------------------------------------------

    def _allocate_row(self) -> int:
        if self._free_rows:
            return self._free_rows.pop()
        if self._used_rows == self.alive.shape[0]:  # full: double every column
            for name, column in _COLUMNS.items():
                values = getattr(self, name)
                extra = np.full(values.shape, column.fill, dtype=values.dtype)
                setattr(
                    self, name, np.concatenate([values, extra], axis=-1 if column.rows_last else 0)
                )
        self._used_rows += 1
        return self._used_rows - 1

    def _ensure_width(self, name: str, width: int) -> None:
        column, values = _COLUMNS[name], getattr(self, name)
        axis = 0 if column.rows_last else 1
        if values.shape[axis] < width:
            shape = list(values.shape)
            shape[axis] = width - values.shape[axis]
            extra = np.full(shape, column.fill, dtype=values.dtype)
            setattr(self, name, np.concatenate([values, extra], axis=axis))
