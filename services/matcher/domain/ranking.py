"""The pair score, its breakdown and the reasons that explain it.

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

``evaluate_rows`` checks every constraint and scores every given row, vectorised and without
shortcuts; the tests check it against the plain per-pair reference
(``tests/matcher_reference.py``). ``candidates.score_batch`` gives the same scores for each
request's best candidates.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.availability import Interval, describe_slot
from services.matcher.domain.constraints import (
    IN_PERSON,
    PASSED,
    PreparedRequest,
    RequestColumns,
    constraint_stages,
    prepare,
)
from services.matcher.domain.index import Rows, VolunteerIndex
from services.matcher.domain.model import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    RANKED_LEVELS,
    Proposal,
    Request,
    Weights,
    level_rank,
    reason,
)
from shared.vocabulary import CONSTRAINT_CODES, Level, UnmatchedCode

CONVERSATIONAL_RANK = level_rank("conversational")


def build_reasons(
    *,
    language: str,
    level: Level,
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
    reasons = [reason("shared_language", language=language, level=level)]
    if locale_bonus_language is not None and locale_bonus_language != language:
        reasons.append(reason("speaks_locale", language=locale_bonus_language))
    if skills:
        reasons.append(reason("skills", skills=sorted(skills)))
    if mode == IN_PERSON:
        reasons.append(reason("distance", km=round(distance_km, 1)))
    else:
        reasons.append(reason("remote"))
    if slot is not None:  # the first slot in the request's local time
        reasons.append(reason("available", **describe_slot(slot, timezone)))
    reasons.append(reason("load", active=active, capacity=capacity))
    return reasons


def _spoken_rank(
    index: VolunteerIndex, language_id: NDArray[np.int64], rows: Rows
) -> NDArray[np.uint8]:
    """The level rank each row's volunteer speaks ``language_id`` at (0 where that is -1)."""
    rank: NDArray[np.uint8] = np.where(
        language_id >= 0, index.levels[np.maximum(language_id, 0), rows], 0
    ).astype(np.uint8, copy=False)
    return rank


def _locale_bonus(
    index: VolunteerIndex, columns: RequestColumns, request: NDArray[np.int64], rows: Rows
) -> NDArray[np.bool_]:
    bonus: NDArray[np.bool_] = (
        _spoken_rank(index, columns.locale_id[request], rows) >= CONVERSATIONAL_RANK
    )
    return bonus


def static_components(
    index: VolunteerIndex,
    columns: RequestColumns,
    request: NDArray[np.int64],
    rows: Rows,
    mode: NDArray[np.int8],
    distance: NDArray[np.float64],
    best_rank: NDArray[np.uint8],
    weights: Weights,
) -> dict[str, NDArray[np.float64]]:
    """Every component but availability, for pairs that pass the constraints before time."""
    language = np.array(weights.rank_scores())[best_rank]
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


def availability_component(
    needed_seconds: NDArray[np.float64], total_seconds: NDArray[np.int64]
) -> NDArray[np.float64]:
    ratio = np.divide(
        total_seconds, needed_seconds, out=np.zeros(total_seconds.size), where=needed_seconds > 0
    )
    return np.minimum(1.0, ratio)


def weighted_sum(
    components: dict[str, NDArray[np.float64]], weights: Weights
) -> NDArray[np.float64]:
    total = np.zeros(next(iter(components.values())).size)
    for name in COMPONENTS:
        total = total + getattr(weights, name) * components[name]
    return total


def _language_choice(
    index: VolunteerIndex,
    columns: RequestColumns,
    request: NDArray[np.int64],
    rows: Rows,
    best_rank: NDArray[np.uint8],
) -> NDArray[np.int64]:
    """Position in ``language_codes`` of the language reported as shared (-1: none)."""
    choice = np.full(rows.size, -1, dtype=np.int64)
    for slot in reversed(range(columns.language_ids.shape[1])):  # the earliest match wins
        level = _spoken_rank(index, columns.language_ids[request, slot], rows)
        matches = (level == best_rank) & (best_rank > 0)
        choice[matches] = columns.language_positions[request, slot][matches]
    return choice


@dataclass(frozen=True)
class Evaluation:
    """Vectorised outcome for a set of index rows against one request.

    ``stage`` is ``PASSED`` or the first failed constraint (``CONSTRAINT_CODES[stage - 1]``);
    the other arrays are meaningful where the row passes.
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

    def failed(self, position: int) -> UnmatchedCode | None:
        stage = int(self.stage[position])
        return None if stage == PASSED else CONSTRAINT_CODES[stage - 1]

    def breakdown(self, position: int) -> dict[str, float]:
        return {name: float(self.components[name][position]) for name in COMPONENTS}

    def reasons(self, position: int) -> list[dict[str, Any]]:
        request = self.prepared.request
        start, end = int(self.first_start[position]), int(self.first_end[position])
        return build_reasons(
            language=self.prepared.language_codes[int(self.language_choice[position])],
            level=RANKED_LEVELS[int(self.best_rank[position]) - 1],
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


def evaluations_of_pairs(
    prepared: Sequence[PreparedRequest],
    index: VolunteerIndex,
    columns: RequestColumns,
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


def _evaluate(
    prepared: PreparedRequest, index: VolunteerIndex, rows: Rows, weights: Weights
) -> Evaluation:
    """Every constraint for every row, and the score of those that pass all of them."""
    columns = RequestColumns.of([prepared])
    funnel, overlap = constraint_stages(columns, 0, index, rows, min_seconds=prepared.min_seconds)
    mode, distance, best_rank, stage = funnel.mode, funnel.distance, funnel.best_rank, funnel.stage
    total_seconds = overlap.total_seconds
    first_start, first_end = overlap.first_start, overlap.first_end
    # Scores only for the rows that pass (nan elsewhere).
    passing = np.flatnonzero(stage == PASSED)
    request = np.zeros(passing.size, dtype=np.int64)  # the one request, for every passing row
    passing_components = static_components(
        index,
        columns,
        request,
        rows[passing],
        mode[passing],
        distance[passing],
        best_rank[passing],
        weights,
    )
    passing_components["availability"] = availability_component(
        columns.needed_seconds[request], total_seconds[passing]
    )
    # One block for the components and the score: nan where the row does not pass.
    block = np.full((len(passing_components) + 1, rows.size), np.nan)
    components = {}
    for number, (name, values) in enumerate(passing_components.items()):
        components[name] = block[number]
        components[name][passing] = values
    score = block[-1]
    score[passing] = weighted_sum(passing_components, weights)  # not over the nan rows
    return evaluations_of_pairs(
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
