"""Plain data types of the matcher: what it knows about volunteers and requests, and what it says.

These are built by the use cases from the read model and events; nothing here does I/O.
Every clock reading is passed in by the caller (``now``), so the rules are deterministic.
Levels, days and urgencies are the words of ``shared.vocabulary``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from shared.vocabulary import LEVELS, Day, Level, ReasonCode, Urgency

RANKED_LEVELS: Final[tuple[Level, ...]] = tuple(reversed(LEVELS))
"""Levels from weakest to strongest; the position plus one is the level's rank (0 = not spoken)."""


def level_rank(level: Level) -> int:
    """0 for a language not spoken, 1 basic … 4 native."""
    return RANKED_LEVELS.index(level) + 1


@dataclass(frozen=True)
class LanguageLevel:
    code: str
    level: Level


@dataclass(frozen=True)
class WeeklyWindow:
    """A weekly window in its owner's local time zone; ``end > start``, same day.

    Windows have minute precision: seconds are ignored. A window cannot cross midnight;
    an evening that runs on after midnight is two windows (``…–23:59`` and ``00:00–…``).
    """

    day: Day
    start: datetime.time
    end: datetime.time

    @classmethod
    def from_minutes(cls, day: Day, start: int, end: int) -> WeeklyWindow:
        """The window from ``start`` to ``end`` minutes after midnight."""
        return cls(day, datetime.time(start // 60, start % 60), datetime.time(end // 60, end % 60))


@dataclass(frozen=True)
class Volunteer:
    volunteer_id: UUID
    locale: str
    languages: tuple[LanguageLevel, ...]
    skills: frozenset[str]
    lat: float | None  # None when erased or never given: the volunteer can only work remotely
    lon: float | None
    max_travel_km: float
    remote_ok: bool
    availability: tuple[WeeklyWindow, ...]
    timezone: str  # IANA name
    capacity: int  # how many active matches the volunteer takes at most
    active_matches: int
    paused: bool = False


@dataclass(frozen=True)
class Request:
    request_id: UUID
    beneficiary_locale: str
    languages: tuple[str, ...]  # ISO 639-1 codes the beneficiary speaks
    skills: frozenset[str]  # every one is needed
    lat: float | None  # None: the help is given remotely
    lon: float | None
    remote_ok: bool  # an in-person request that also accepts remote help
    windows: tuple[WeeklyWindow, ...]
    timezone: str  # IANA name
    urgency: Urgency
    needed_by: datetime.date  # in the request's time zone, inclusive
    submitted_at: datetime.datetime  # UTC
    excluded_volunteers: frozenset[UUID] = frozenset()  # declined or expired offers


def reason(code: ReasonCode, **parameters: Any) -> dict[str, Any]:
    """A reason as events carry it: a code of the shared vocabulary, then its parameters."""
    return {"code": code, **parameters}


@dataclass(frozen=True)
class Proposal:
    request_id: UUID
    volunteer_id: UUID
    score: float
    breakdown: dict[str, float]
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class Unmatched:
    request_id: UUID
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class Weights:
    """Tunable numbers of the score; the five component weights sum to 1 by default.

    The pair score is ``language*L + skills*S + distance*D + availability*A + load*W`` with every
    component in [0, 1]. Urgency multipliers only set a request's priority in assignment.
    """

    language: float = 0.30
    skills: float = 0.20
    distance: float = 0.20
    availability: float = 0.15
    load: float = 0.15

    # Urgency multipliers: a critical request's pairs are worth 2.5 times a low one's.
    urgency_low: float = 1.0
    urgency_normal: float = 1.2
    urgency_high: float = 1.6
    urgency_critical: float = 2.5

    # Language component: the best shared level, plus a bonus when the volunteer also speaks
    # the beneficiary's own language (their locale) at conversational level or better.
    native: float = 1.0
    fluent: float = 0.85
    conversational: float = 0.6
    basic: float = 0.3  # basic only matters when nothing better is shared
    locale_bonus: float = 0.15

    # Skills component: share of the needed skills covered (always all of them for a proposed
    # pair) blended with how focused the volunteer's skills are on the needed ones.
    specialisation: float = 0.3

    # Distance component: 1.0 at the beneficiary's door, falling linearly to this value at the
    # edge of the volunteer's reach; remote help gets a fixed neutral value.
    distance_at_reach: float = 0.25
    remote_distance: float = 0.5

    # Availability component: overlap minutes in the planning horizon relative to what is
    # needed: the request's own window minutes in the horizon, but at most this many.
    availability_full_minutes: float = 240.0
    min_overlap_minutes: float = 60.0

    def urgency_multiplier(self, urgency: Urgency) -> float:
        return {
            "low": self.urgency_low,
            "normal": self.urgency_normal,
            "high": self.urgency_high,
            "critical": self.urgency_critical,
        }[urgency]

    def level_score(self, level: Level) -> float:
        return {
            "native": self.native,
            "fluent": self.fluent,
            "conversational": self.conversational,
            "basic": self.basic,
        }[level]

    def rank_scores(self) -> tuple[float, ...]:
        """``level_score`` by level rank (see ``level_rank``); 0 for a language not spoken."""
        return (0.0, *(self.level_score(level) for level in RANKED_LEVELS))


DEFAULT_WEIGHTS = Weights()

COMPONENTS: tuple[str, ...] = ("language", "skills", "distance", "availability", "load")
"""Names of the score components, as used in ``Proposal.breakdown``."""
