"""Matcher benchmark on generated data: index, retrieval, scoring and batch assignment.

Volunteers and requests are spread around Płock and Seinäjoki with a mix of languages in which
native speakers of the local language dominate. The random seed is fixed, so runs compare.
Targets are printed beside the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from services.matcher.domain.assignment import candidate_lists, match_batch, solve_assignment
from services.matcher.domain.candidates import ScoredRequest, score_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import LanguageLevel, Request, Volunteer, WeeklyWindow
from services.matcher.domain.ranking import evaluate_rows
from shared.vocabulary import DAYS, LEVELS, URGENCIES, Level
from tests.matcher_reference import assignment_value, evaluate_pair, greedy_assignment

SEED = 20260323
NOW = datetime.datetime(2026, 3, 23, 9, 0, tzinfo=datetime.UTC)  # the horizon spans a DST change

SKILLS = (
    "legal_aid",
    "translation",
    "job_search",
    "housing",
    "medical_accompaniment",
    "language_tutoring",
    "childcare",
    "paperwork",
    "transport",
    "digital_help",
)
# How common each skill is among volunteers, and how often requests need it.
VOLUNTEER_SKILL_WEIGHTS = (0.5, 1.4, 1.0, 0.8, 0.6, 1.3, 0.9, 1.1, 0.9, 1.5)
REQUEST_SKILL_WEIGHTS = (1.2, 1.3, 1.4, 1.3, 0.9, 0.7, 0.6, 1.2, 0.5, 0.9)
FOREIGN_LANGUAGES = ("uk", "ru", "be", "ka", "hi", "vi", "tl")
FOREIGN_WEIGHTS = (0.42, 0.2, 0.08, 0.07, 0.08, 0.08, 0.07)


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float
    language: str
    timezone: str
    share: float  # of volunteers and requests


CITIES = (
    City("Płock", 52.546, 19.706, "pl", "Europe/Warsaw", 0.55),
    City("Seinäjoki", 62.79, 22.84, "fi", "Europe/Helsinki", 0.45),
)


def _sample_skills(rng: random.Random, count: int, weights: Sequence[float]) -> frozenset[str]:
    chosen: set[str] = set()
    while len(chosen) < count:
        chosen.add(rng.choices(SKILLS, weights)[0])
    return frozenset(chosen)


def _windows(
    rng: random.Random, count: int, earliest: int, latest: int
) -> tuple[WeeklyWindow, ...]:
    windows = []
    for _ in range(count):
        start = rng.randrange(earliest * 2, latest * 2) * 30  # half-hour steps
        end = min(start + rng.choice((60, 90, 120, 180, 240)), 23 * 60 + 59)
        windows.append(WeeklyWindow.from_minutes(rng.choice(DAYS), start, end))
    return tuple(windows)


# Standard deviation (km) of where people are around their city: volunteers come from the
# surrounding region, requests mostly from town.
VOLUNTEER_SPREAD_KM = 30.0
REQUEST_SPREAD_KM = 10.0


def _place(rng: random.Random, city: City, spread_km: float) -> tuple[float, float]:
    north, east = rng.gauss(0.0, spread_km), rng.gauss(0.0, spread_km)
    lat = city.lat + north / 111.2
    lon = city.lon + east / (111.2 * math.cos(math.radians(city.lat)))
    return round(lat, 3), round(lon, 3)  # events carry locations rounded to about 100 m


def _city(rng: random.Random) -> City:
    return CITIES[0] if rng.random() < CITIES[0].share else CITIES[1]


def _level(rng: random.Random, weights: Sequence[float]) -> Level:
    return rng.choices(LEVELS, weights)[0]


def generate_volunteer(rng: random.Random, spread_km: float = VOLUNTEER_SPREAD_KM) -> Volunteer:
    city = _city(rng)
    languages: dict[str, Level] = {}
    if rng.random() < 0.86:
        languages[city.language] = "native"
    else:
        languages[rng.choices(FOREIGN_LANGUAGES, FOREIGN_WEIGHTS)[0]] = "native"
        languages[city.language] = _level(rng, (0.0, 0.35, 0.4, 0.25))
    if rng.random() < 0.55:
        languages.setdefault("en", _level(rng, (0.02, 0.38, 0.4, 0.2)))
    for code, chance in (("ru", 0.12), ("uk", 0.08)):
        if rng.random() < chance:
            languages.setdefault(code, _level(rng, (0.0, 0.2, 0.4, 0.4)))
    remote_ok = rng.random() < 0.4
    located = not remote_ok or rng.random() < 0.9  # some remote-only volunteers give no place
    lat, lon = _place(rng, city, spread_km) if located else (None, None)
    capacity = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    return Volunteer(
        volunteer_id=uuid.UUID(int=rng.getrandbits(128)),
        locale=next(iter(languages)),
        languages=tuple(LanguageLevel(code, level) for code, level in languages.items()),
        skills=_sample_skills(rng, rng.randint(1, 4), VOLUNTEER_SKILL_WEIGHTS),
        lat=lat,
        lon=lon,
        max_travel_km=float(
            rng.choices((2, 5, 10, 15, 25, 50), (0.15, 0.3, 0.25, 0.15, 0.1, 0.05))[0]
        ),
        remote_ok=remote_ok,
        availability=_windows(rng, rng.randint(2, 6), 7, 21),
        timezone=city.timezone,
        capacity=capacity,
        active_matches=rng.randint(0, capacity) if rng.random() < 0.3 else 0,
        paused=rng.random() < 0.03,
    )


def generate_request(rng: random.Random, number: int) -> Request:
    city = _city(rng)
    own = rng.choices((*FOREIGN_LANGUAGES, "en"), (*FOREIGN_WEIGHTS, 0.1))[0]
    languages = [own]
    if own in ("uk", "be", "ka") and rng.random() < 0.5:
        languages.append("ru")
    if own != "en" and rng.random() < 0.3:
        languages.append("en")
    if rng.random() < 0.15:
        languages.append(city.language)
    remote = rng.random() < 0.25
    lat, lon = (None, None) if remote else _place(rng, city, REQUEST_SPREAD_KM)
    return Request(
        request_id=uuid.UUID(int=number + 1),
        beneficiary_locale=own,
        languages=tuple(languages),
        skills=_sample_skills(rng, rng.choices((1, 2), (0.7, 0.3))[0], REQUEST_SKILL_WEIGHTS),
        lat=lat,
        lon=lon,
        remote_ok=not remote and rng.random() < 0.3,
        windows=_windows(rng, rng.randint(2, 5), 8, 20),
        timezone=city.timezone,
        urgency=rng.choices(URGENCIES, (0.2, 0.5, 0.22, 0.08))[0],
        needed_by=(NOW + datetime.timedelta(days=rng.randint(3, 28))).date(),
        submitted_at=NOW - datetime.timedelta(minutes=rng.randint(1, 10_000)),
    )


T = TypeVar("T")


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result and the seconds taken; the garbage collector pauses meanwhile, as in timeit."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = action()
        return result, time.perf_counter() - start
    finally:
        gc.enable()


def _best_of(runs: int, action: Callable[[], T]) -> tuple[T, float]:
    """The result and the shortest time of a few runs (the machine may be busy)."""
    results = [_timed(action) for _ in range(runs)]
    return results[-1][0], min(seconds for _, seconds in results)


def _line(label: str, figure: str, note: str = "") -> None:
    print(f"  {label:<50} {figure:>20}   {note}".rstrip())


def _build_index(volunteers: Sequence[Volunteer]) -> VolunteerIndex:
    print("index")
    index = VolunteerIndex()
    _, add_seconds = _timed(lambda: index.add_many(volunteers))
    _, tree_seconds = _timed(index.rebuild)
    _line("add every volunteer", f"{add_seconds:.2f} s")
    _line("build the geographic grid (one batch)", f"{tree_seconds:.2f} s")
    _line("build in total", f"{add_seconds + tree_seconds:.2f} s")
    _line(
        "memory: columns + grid + id map",
        f"{index.memory_bytes() / 1e6:.1f} MB",
        "target < 50 MB",
    )
    # The same build again under tracemalloc (slower, so not timed): what Python allocated.
    gc.collect()
    tracemalloc.start()
    traced = VolunteerIndex()
    traced.add_many(volunteers)
    traced.rebuild()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    _line("memory: tracemalloc, held after build / peak", f"{held / 1e6:.1f} / {peak / 1e6:.1f} MB")
    return index


def _measure_retrieval(index: VolunteerIndex, requests: Sequence[Request]) -> None:
    print("candidate retrieval (the grid for in-person work, remote_ok lists for remote work)")
    located = [r for r in requests if r.lat is not None and r.lon is not None]
    lats = np.array([r.lat for r in located], dtype=np.float64)
    lons = np.array([r.lon for r in located], dtype=np.float64)
    index.in_person_rows_many(lats[:10], lons[:10])  # warm-up
    sample = list(zip(lats[:100].tolist(), lons[:100].tolist(), strict=True))
    _, seconds = _best_of(3, lambda: [index.in_person_rows(lat, lon) for lat, lon in sample])
    _line(
        "in person, one request at a time",
        f"{seconds / len(sample) * 1e6:.0f} µs/request",
        "(bounds, then the exact distance)",
    )
    found, seconds = _best_of(3, lambda: index.in_person_rows_many(lats, lons))
    _line(
        "in person, a whole batch (one grid query)",
        f"{seconds / len(located) * 1e6:.0f} µs/request",
    )
    _line(
        "  volunteers within their reach, mean", f"{np.mean([rows.size for rows, _ in found]):,.0f}"
    )
    anchors = [
        index.anchor_skill(sum(1 << (index.skills.get(s) or 0) for s in r.skills)) for r in located
    ]
    found, seconds = _best_of(3, lambda: index.in_person_rows_many(lats, lons, anchors))
    _line(
        "  the same through the rarest needed skill's groups",
        f"{seconds / len(located) * 1e6:.0f} µs/request",
    )
    _line(
        "  volunteers within reach with that skill, mean",
        f"{np.mean([rows.size for rows, _ in found]):,.0f}",
    )
    _line("remote: volunteers with remote_ok", f"{index.remote_rows().size:,}")


def _reach_rows_of(
    index: VolunteerIndex, requests: Sequence[Request]
) -> list[np.ndarray[Any, Any]]:
    """Every volunteer each request can reach: in person within their reach, or remotely."""
    located = [r for r in requests if r.lat is not None and r.lon is not None]
    in_person = index.in_person_rows_many(
        np.array([r.lat for r in located], dtype=np.float64),
        np.array([r.lon for r in located], dtype=np.float64),
    )
    in_person_of = {r.request_id: rows for r, (rows, _) in zip(located, in_person, strict=True)}
    reachable = []
    for request in requests:
        rows = in_person_of.get(request.request_id, np.zeros(0, dtype=np.int64))
        if request.lat is None or request.remote_ok:
            rows = np.concatenate([rows, index.remote_rows_except(rows)])
        reachable.append(rows)
    return reachable


def _measure_scoring(
    index: VolunteerIndex,
    volunteers: Sequence[Volunteer],
    requests: Sequence[Request],
    loop_sample: int,
) -> None:
    print("scoring (every constraint of every pair; exact time overlap and score where needed)")
    pairs = list(zip(requests, _reach_rows_of(index, requests), strict=True))
    pair_count = sum(rows.size for _, rows in pairs)

    def vectorised() -> int:
        return sum(
            int(np.count_nonzero(evaluate_rows(request, index, rows, NOW).stage == 0))
            for request, rows in pairs
        )

    passing, seconds = _best_of(3, vectorised)
    vector_rate = pair_count / seconds
    _line(
        f"vectorised, {len(pairs)} requests x volunteers in reach",
        f"{vector_rate / 1e6:.1f} M pairs/s",
        "target >= 10 M pairs/s",
    )
    _line("  pairs scored / passing every constraint", f"{pair_count:,} / {passing:,}")

    volunteer_of_row = {index.row_of(v.volunteer_id): v for v in volunteers}
    sizes = np.array([rows.size for _, rows in pairs])
    picked = np.sort(
        np.random.default_rng(SEED).choice(pair_count, min(loop_sample, pair_count), replace=False)
    )
    request_of_pick = np.searchsorted(np.cumsum(sizes), picked, "right")
    offset_of_pick = picked - (np.cumsum(sizes) - sizes)[request_of_pick]
    loop_pairs = [
        (pairs[r][0], volunteer_of_row[int(pairs[r][1][o])])
        for r, o in zip(request_of_pick.tolist(), offset_of_pick.tolist(), strict=True)
    ]
    _, seconds = _timed(lambda: [evaluate_pair(request, v, NOW) for request, v in loop_pairs])
    loop_rate = len(loop_pairs) / seconds
    _line(
        f"plain per-pair loop, random sample of {len(loop_pairs):,}",
        f"{loop_rate / 1e3:.1f} k pairs/s",
        f"extrapolated to all {pair_count:,}: {pair_count / loop_rate:.1f} s",
    )
    _line("vectorised / per-pair loop", f"{vector_rate / loop_rate:,.0f} x", "target >= 50 x")


def _measure_assignment(index: VolunteerIndex, requests: Sequence[Request]) -> None:
    print("assignment of micro-batches (requests in arrival order)")
    used = slice(0, index.row_count)
    free_slots, capacity = index.free_slots(), index.capacity[used]
    match_batch(requests[:20], index, NOW)  # warm-up
    for size in (10, 100, 1_000):
        if size > len(requests):
            break
        _measure_batch(index, requests[:size], free_slots, capacity)


def _measure_batch(
    index: VolunteerIndex,
    batch: Sequence[Request],
    free_slots: np.ndarray[Any, Any],
    capacity: np.ndarray[Any, Any],
) -> None:
    scored = [s for s in score_batch(batch, index, NOW) if isinstance(s, ScoredRequest)]
    lists = candidate_lists(scored)
    chosen, solve_seconds = _best_of(3, lambda: solve_assignment(lists, free_slots, capacity))
    greedy = greedy_assignment(lists, free_slots, capacity)
    gain = assignment_value(lists, chosen, capacity) / assignment_value(lists, greedy, capacity)
    (proposals, unmatched), total_seconds = _best_of(3, lambda: match_batch(batch, index, NOW))
    size = len(batch)
    _line(f"batch of {size:,}: assignment", f"{solve_seconds * 1000:.1f} ms")
    _line(
        f"batch of {size:,}: retrieval + scoring + assignment",
        f"{total_seconds * 1000:.0f} ms",
        "target < 500 ms" if size == 1_000 else "",
    )
    _line(
        "  proposals / unmatched; value against greedy",
        f"{len(proposals)} / {len(unmatched)}; {gain - 1:+.2%}",
    )
    decisive: dict[str, int] = {}
    for outcome in unmatched:
        code = outcome.reasons[0]["code"]
        decisive[code] = decisive.get(code, 0) + 1
    _line(
        "  unmatched by decisive reason", ", ".join(f"{c} {n}" for c, n in decisive.items()) or "-"
    )


def _one_core() -> str:
    """Keep this process (and any library threads) on one CPU, as the targets assume."""
    if not hasattr(os, "sched_setaffinity"):
        return ", on every core (this system cannot pin a process)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f", on one core (CPU {cpu})"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench matcher")
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--loop-sample", type=int, default=20_000, help="pairs for the plain loop")
    parser.add_argument("--scoring-requests", type=int, default=200, help="requests for scoring")
    parser.add_argument(
        "--volunteer-spread-km",
        type=float,
        default=VOLUNTEER_SPREAD_KM,
        help="how far volunteers live from their city (standard deviation)",
    )
    options = parser.parse_args(argv)

    rng = random.Random(SEED)
    print(
        f"matcher benchmark: {options.volunteers:,} volunteers, {options.requests:,} open requests"
        f"{_one_core()}"
    )
    volunteers, seconds = _timed(
        lambda: [
            generate_volunteer(rng, options.volunteer_spread_km) for _ in range(options.volunteers)
        ]
    )
    requests = [generate_request(rng, number) for number in range(options.requests)]
    print(
        f"  generated in {seconds:.1f} s (seed {SEED}, now {NOW:%Y-%m-%d %H:%M} UTC; volunteers"
        f" within ~{options.volunteer_spread_km:.0f} km of Płock or Seinäjoki, requests"
        f" ~{REQUEST_SPREAD_KM:.0f} km)"
    )
    index = _build_index(volunteers)
    _measure_retrieval(index, requests)
    _measure_scoring(index, volunteers, requests[: options.scoring_requests], options.loop_sample)
    _measure_assignment(index, requests)
