"""Why a request has no candidate: the constraints as a funnel, the decisive one first."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.matcher.domain.constraints import (
    MISSING_SKILL,
    PASSED,
    PreparedRequest,
    RequestColumns,
    constraint_stages,
    prepare_many,
)
from services.matcher.domain.index import Rows, VolunteerIndex
from services.matcher.domain.model import DEFAULT_WEIGHTS, Request, Unmatched, Weights, reason
from services.matcher.domain.retrieval import reach_rows
from shared.vocabulary import CONSTRAINT_CODES, UnmatchedCode


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
        return Unmatched(request.request_id, [reason("no_volunteers")])
    return explain_many(prepare_many([request], index, now, weights), index)[0]


def explain_many(prepared: Sequence[PreparedRequest], index: VolunteerIndex) -> list[Unmatched]:
    if not prepared:
        return []
    located = [p for p in prepared if p.in_person]
    retrieved = index.in_person_rows_many(
        np.array([p.request.lat for p in located], dtype=np.float64),
        np.array([p.request.lon for p in located], dtype=np.float64),
    )
    in_person_of = {id(p): found for p, found in zip(located, retrieved, strict=True)}
    columns = RequestColumns.of(prepared)
    explained = []
    for number, p in enumerate(prepared):
        rows, distance = reach_rows(p, index, in_person_of.get(id(p)))
        stage = constraint_stages(columns, number, index, rows, distance, p.min_seconds)[0].stage
        removed = np.bincount(stage, minlength=len(CONSTRAINT_CODES) + 1)
        funnel: dict[UnmatchedCode, int] = {
            code: int(removed[number]) for number, code in enumerate(CONSTRAINT_CODES, start=1)
        }
        funnel["out_of_reach"] += len(index) - rows.size
        failing = [number for number in range(1, len(CONSTRAINT_CODES) + 1) if removed[number]]
        decisive: UnmatchedCode = CONSTRAINT_CODES[max(failing) - 1] if failing else "out_of_reach"
        reached_skills = rows[(stage == PASSED) | (stage >= MISSING_SKILL)]
        explained.append(_unmatched(p, index, funnel, decisive, reached_skills))
    return explained


def _unmatched(
    prepared: PreparedRequest,
    index: VolunteerIndex,
    funnel: dict[UnmatchedCode, int],
    decisive: UnmatchedCode,
    reached_skills: Rows,
) -> Unmatched:
    request = prepared.request

    def explained(code: UnmatchedCode) -> dict[str, Any]:
        entry = reason(code, count=funnel[code])
        if code == "no_shared_language":
            entry["languages"] = list(request.languages)
        elif code == "missing_skill":
            entry["skills"] = _missing_skills(prepared, index, reached_skills)
        return entry

    others = [code for code in CONSTRAINT_CODES if code != decisive and funnel[code] > 0]
    return Unmatched(
        request.request_id, [explained(decisive), *(explained(code) for code in others)]
    )


def _missing_skills(prepared: PreparedRequest, index: VolunteerIndex, rows: Rows) -> list[str]:
    """Needed skills none of ``rows`` has; all needed skills if only the combination is missing."""
    held = int(np.bitwise_or.reduce(index.skill_bits[rows])) if rows.size else 0
    missing = set(prepared.unknown_skills)
    for skill in prepared.request.skills:
        skill_id = index.skills.get(skill)
        if skill_id is not None and not held >> skill_id & 1:
            missing.add(skill)
    return sorted(missing or prepared.request.skills)
