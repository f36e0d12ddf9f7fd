"""Hard constraints, score components and reasons: the plain reference and the vectorised path."""

from __future__ import annotations

import datetime
import json
import random
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.matcher.domain.availability import _overlap_kernel
from services.matcher.domain.candidates import ScoredRequest, score_batch, score_request
from services.matcher.domain.constraints import _stage_kernel, prepare, prepare_many
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import (
    RANKED_LEVELS,
    LanguageLevel,
    Request,
    Unmatched,
    Volunteer,
    WeeklyWindow,
    Weights,
)
from services.matcher.domain.ranking import evaluate_rows
from services.matcher.domain.unmatched import explain_unmatched
from services.matcher.domain.warmup import compile_kernels
from shared.vocabulary import CONSTRAINT_CODES, DAYS, URGENCIES
from tests.matcher_reference import PairResult, evaluate_pair

NOW = datetime.datetime(2026, 1, 12, 8, 0, tzinfo=datetime.UTC)  # a Monday in winter
PLOCK = (52.546, 19.706)
SEINAJOKI = (62.79, 22.84)
WEIGHTS = Weights()


def window(day: str, start: str, end: str) -> WeeklyWindow:
    return WeeklyWindow(
        day,  # type: ignore[arg-type]
        datetime.time.fromisoformat(start),
        datetime.time.fromisoformat(end),
    )


def make_volunteer(**changes: Any) -> Volunteer:
    volunteer = Volunteer(
        volunteer_id=uuid.uuid4(),
        locale="uk",
        languages=(LanguageLevel("uk", "native"), LanguageLevel("pl", "fluent")),
        skills=frozenset({"legal_aid"}),
        lat=52.546,
        lon=19.78,  # 5.0 km east of the request
        max_travel_km=10.0,
        remote_ok=False,
        availability=(window("tue", "17:00", "19:00"),),
        timezone="Europe/Warsaw",
        capacity=2,
        active_matches=0,
    )
    return replace(volunteer, **changes)


def make_request(**changes: Any) -> Request:
    request = Request(
        request_id=uuid.uuid4(),
        beneficiary_locale="uk",
        languages=("uk",),
        skills=frozenset({"legal_aid"}),
        lat=PLOCK[0],
        lon=PLOCK[1],
        remote_ok=False,
        windows=(window("tue", "17:00", "19:00"),),
        timezone="Europe/Warsaw",
        urgency="normal",
        needed_by=datetime.date(2026, 1, 18),  # the horizon holds one Tuesday, 13 January
        submitted_at=NOW - datetime.timedelta(hours=1),
    )
    return replace(request, **changes)


def evaluate(request: Request, volunteer: Volunteer) -> PairResult:
    """The reference result, checked against the vectorised path for the same pair."""
    reference = evaluate_pair(request, volunteer, NOW)
    index = VolunteerIndex()
    index.add(volunteer)
    vectorised = evaluate_rows(request, index, np.array([0]), NOW)
    assert vectorised.failed(0) == reference.failed
    if reference.failed is None:
        assert vectorised.score[0] == pytest.approx(reference.score, abs=1e-12)
        assert vectorised.breakdown(0) == pytest.approx(reference.breakdown, abs=1e-12)
        assert vectorised.reasons(0) == reference.reasons
    return reference


def reason(result: PairResult, code: str) -> dict[str, Any]:
    return next(r for r in result.reasons if r["code"] == code)


# --- hard constraints -----------------------------------------------------------------------


def test_in_person_within_reach_passes_and_beyond_reach_fails() -> None:
    assert evaluate(make_request(), make_volunteer(max_travel_km=10.0)).failed is None
    assert evaluate(make_request(), make_volunteer(max_travel_km=4.0)).failed == "out_of_reach"


def test_remote_request_needs_a_volunteer_who_works_remotely_wherever_they_are() -> None:
    request = make_request(lat=None, lon=None)
    far_away = make_volunteer(lat=SEINAJOKI[0], lon=SEINAJOKI[1], remote_ok=True)
    result = evaluate(request, far_away)
    assert result.failed is None
    assert {"code": "remote"} in result.reasons
    assert evaluate(request, replace(far_away, remote_ok=False)).failed == "out_of_reach"


def test_in_person_request_accepting_remote_help_can_be_served_remotely() -> None:
    far_away = make_volunteer(lat=SEINAJOKI[0], lon=SEINAJOKI[1], remote_ok=True)
    result = evaluate(make_request(remote_ok=True), far_away)
    assert result.failed is None
    assert {"code": "remote"} in result.reasons
    assert evaluate(make_request(remote_ok=False), far_away).failed == "out_of_reach"


def test_volunteer_without_location_only_works_remotely() -> None:
    erased = make_volunteer(lat=None, lon=None, remote_ok=False)
    assert evaluate(make_request(), erased).failed == "out_of_reach"
    assert evaluate(make_request(remote_ok=True), erased).failed == "out_of_reach"
    remote_only = make_volunteer(lat=None, lon=None, remote_ok=True)
    assert evaluate(make_request(lat=None, lon=None), remote_only).failed is None


def test_a_shared_language_is_required() -> None:
    assert evaluate(make_request(languages=("pl",)), make_volunteer()).failed is None
    assert evaluate(make_request(languages=("ka",)), make_volunteer()).failed == (
        "no_shared_language"
    )


def test_basic_counts_only_when_nothing_better_is_shared_and_is_reported_as_basic() -> None:
    request = make_request(languages=("uk", "pl"))
    only_basic = make_volunteer(languages=(LanguageLevel("pl", "basic"),))
    result = evaluate(request, only_basic)
    assert result.failed is None
    assert reason(result, "shared_language") == {
        "code": "shared_language",
        "language": "pl",
        "level": "basic",
    }
    assert result.breakdown["language"] == pytest.approx(WEIGHTS.basic)

    better = make_volunteer(languages=(LanguageLevel("pl", "basic"), LanguageLevel("uk", "native")))
    result = evaluate(request, better)
    assert reason(result, "shared_language") == {
        "code": "shared_language",
        "language": "uk",
        "level": "native",
    }
    assert result.breakdown["language"] == pytest.approx(1.0)


def test_every_needed_skill_is_required() -> None:
    request = make_request(skills=frozenset({"legal_aid", "translation"}))
    assert (
        evaluate(request, make_volunteer(skills=frozenset({"legal_aid", "translation"}))).failed
        is None
    )
    assert evaluate(request, make_volunteer()).failed == "missing_skill"


def test_remaining_capacity_is_required() -> None:
    assert evaluate(make_request(), make_volunteer(capacity=2, active_matches=1)).failed is None
    assert evaluate(make_request(), make_volunteer(capacity=2, active_matches=2)).failed == (
        "no_capacity"
    )
    assert evaluate(make_request(), make_volunteer(capacity=0, active_matches=0)).failed == (
        "no_capacity"
    )


def test_paused_volunteers_are_not_proposed() -> None:
    assert evaluate(make_request(), make_volunteer(paused=False)).failed is None
    assert evaluate(make_request(), make_volunteer(paused=True)).failed == "no_capacity"


def test_excluded_volunteers_are_not_proposed_again() -> None:
    volunteer = make_volunteer()
    other = uuid.uuid4()
    assert evaluate(make_request(excluded_volunteers=frozenset({other})), volunteer).failed is None
    request = make_request(excluded_volunteers=frozenset({volunteer.volunteer_id}))
    assert evaluate(request, volunteer).failed == "previously_offered"


def test_an_hour_of_shared_time_is_required() -> None:
    hour = make_volunteer(availability=(window("tue", "18:00", "19:30"),))
    assert evaluate(make_request(), hour).failed is None
    half_hour = make_volunteer(availability=(window("tue", "18:30", "20:00"),))
    assert evaluate(make_request(), half_hour).failed == "no_time_overlap"
    other_day = make_volunteer(availability=(window("wed", "17:00", "19:00"),))
    assert evaluate(make_request(), other_day).failed == "no_time_overlap"


def test_time_is_compared_in_each_side_s_own_time_zone() -> None:
    # Helsinki is an hour ahead of Warsaw: 18:00-20:00 there is 17:00-19:00 here.
    helsinki = make_volunteer(
        availability=(window("tue", "18:00", "20:00"),), timezone="Europe/Helsinki"
    )
    result = evaluate(make_request(), helsinki)
    assert result.failed is None
    assert reason(result, "available") == {
        "code": "available",
        "day": "tue",
        "date": "2026-01-13",
        "start": "17:00",
        "end": "19:00",
    }
    late = make_request(windows=(window("tue", "19:00", "21:00"),))
    assert evaluate(late, helsinki).failed == "no_time_overlap"


# --- score components -----------------------------------------------------------------------


@pytest.mark.parametrize("level", RANKED_LEVELS)
def test_language_component_is_the_best_shared_level(level: str) -> None:
    volunteer = make_volunteer(languages=(LanguageLevel("uk", level),))  # type: ignore[arg-type]
    request = make_request(beneficiary_locale="ru", languages=("uk",))  # no locale bonus
    result = evaluate(request, volunteer)
    assert result.breakdown["language"] == pytest.approx(WEIGHTS.level_score(level))  # type: ignore[arg-type]


def test_language_bonus_when_the_volunteer_speaks_the_beneficiary_s_own_language() -> None:
    request = make_request(beneficiary_locale="uk-UA", languages=("uk", "en"))
    speaks = make_volunteer(languages=(LanguageLevel("uk", "conversational"),))
    result = evaluate(request, speaks)
    assert result.breakdown["language"] == pytest.approx(
        WEIGHTS.conversational + WEIGHTS.locale_bonus
    )
    english = make_volunteer(languages=(LanguageLevel("en", "conversational"),))
    assert evaluate(request, english).breakdown["language"] == pytest.approx(WEIGHTS.conversational)
    # Speaking the locale language only at a basic level earns no bonus.
    mixed = make_volunteer(languages=(LanguageLevel("en", "fluent"), LanguageLevel("uk", "basic")))
    result = evaluate(request, mixed)
    assert result.breakdown["language"] == pytest.approx(WEIGHTS.fluent)
    assert {"code": "speaks_locale", "language": "uk"} not in result.reasons


def test_skills_component_prefers_a_specialist_to_a_generalist() -> None:
    specialist = evaluate(make_request(), make_volunteer(skills=frozenset({"legal_aid"})))
    generalist = evaluate(
        make_request(),
        make_volunteer(skills=frozenset({"legal_aid", "housing", "childcare", "transport"})),
    )
    assert specialist.breakdown["skills"] == pytest.approx(1.0)
    expected = (1 - WEIGHTS.specialisation) + WEIGHTS.specialisation * 0.25
    assert generalist.breakdown["skills"] == pytest.approx(expected)
    assert specialist.score > generalist.score


def test_distance_component_decays_with_distance_relative_to_reach() -> None:
    near = evaluate(make_request(), make_volunteer(lon=19.706, lat=52.547))
    five_km = evaluate(make_request(), make_volunteer())  # 5.0 km, reach 10
    assert near.breakdown["distance"] > 0.99
    km = reason(five_km, "distance")["km"]
    assert km == pytest.approx(5.0, abs=0.05)
    ratio = 5.003911526525013 / 10.0
    assert five_km.breakdown["distance"] == pytest.approx(
        1 - (1 - WEIGHTS.distance_at_reach) * ratio
    )
    assert near.score > five_km.score


def test_remote_distance_is_neutral_and_in_person_never_scores_below_it() -> None:
    remote = evaluate(make_request(lat=None, lon=None), make_volunteer(remote_ok=True))
    assert remote.breakdown["distance"] == pytest.approx(WEIGHTS.remote_distance)
    edge = make_volunteer(max_travel_km=5.1, remote_ok=True)  # in reach, near its edge
    strictly_in_person = evaluate(make_request(remote_ok=False), edge)
    either_way = evaluate(make_request(remote_ok=True), edge)
    assert strictly_in_person.breakdown["distance"] < WEIGHTS.remote_distance
    assert either_way.breakdown["distance"] == pytest.approx(WEIGHTS.remote_distance)


def test_availability_component_is_shared_time_over_what_is_needed() -> None:
    request = make_request(windows=(window("tue", "15:00", "19:00"),))  # 240 minutes
    full = evaluate(request, make_volunteer(availability=(window("tue", "14:00", "20:00"),)))
    half = evaluate(request, make_volunteer(availability=(window("tue", "15:00", "17:00"),)))
    assert full.breakdown["availability"] == pytest.approx(1.0)
    assert half.breakdown["availability"] == pytest.approx(0.5)
    # What is needed is at most ``availability_full_minutes``: more windows do not dilute it.
    long_request = make_request(
        windows=(window("tue", "09:00", "19:00"),), needed_by=datetime.date(2026, 1, 25)
    )
    four_hours = evaluate(
        long_request, make_volunteer(availability=(window("tue", "15:00", "17:00"),))
    )
    assert four_hours.breakdown["availability"] == pytest.approx(1.0)  # 2 Tuesdays x 2 h


def test_load_component_spreads_work() -> None:
    idle = evaluate(make_request(), make_volunteer(capacity=2, active_matches=0))
    busy = evaluate(make_request(), make_volunteer(capacity=2, active_matches=1))
    assert idle.breakdown["load"] == pytest.approx(1.0)
    assert busy.breakdown["load"] == pytest.approx(0.5)
    assert idle.score > busy.score
    assert reason(busy, "load") == {"code": "load", "active": 1, "capacity": 2}


def test_score_is_the_weighted_sum_and_urgency_does_not_change_it() -> None:
    result = evaluate(make_request(urgency="low"), make_volunteer())
    expected = sum(getattr(WEIGHTS, name) * value for name, value in result.breakdown.items())
    assert result.score == pytest.approx(expected)
    assert 0.0 < result.score <= 1.0
    critical = evaluate(make_request(urgency="critical"), make_volunteer())
    assert critical.score == pytest.approx(result.score)


def test_reasons_name_codes_and_parameters() -> None:
    result = evaluate(make_request(), make_volunteer())
    assert result.reasons == [
        {"code": "shared_language", "language": "uk", "level": "native"},
        {"code": "skills", "skills": ["legal_aid"]},
        {"code": "distance", "km": 5.0},
        {"code": "available", "day": "tue", "date": "2026-01-13", "start": "17:00", "end": "19:00"},
        {"code": "load", "active": 0, "capacity": 2},
    ]


# --- the vectorised path agrees with the reference ------------------------------------------

TIME_ZONES = ("Europe/Warsaw", "Europe/Helsinki", "Asia/Tbilisi", "UTC")
LANGUAGES = ("pl", "uk", "ru", "en", "fi", "ka")
SKILLS = ("legal_aid", "translation", "job_search", "housing", "childcare", "paperwork")


def random_windows(rng: random.Random, count: int) -> tuple[WeeklyWindow, ...]:
    windows = []
    for _ in range(count):
        start = rng.randrange(0, 22 * 60, 15)
        end = min(start + rng.choice((30, 60, 90, 120, 180, 300)), 23 * 60 + 59)
        windows.append(WeeklyWindow.from_minutes(rng.choice(DAYS), start, end))
    return tuple(windows)


def random_volunteer(rng: random.Random) -> Volunteer:
    located = rng.random() < 0.9
    capacity = rng.randint(0, 3)
    return Volunteer(
        volunteer_id=uuid.UUID(int=rng.getrandbits(128)),
        locale=rng.choice(LANGUAGES),
        languages=tuple(
            LanguageLevel(code, rng.choice(RANKED_LEVELS))
            for code in rng.sample(LANGUAGES, rng.randint(1, 3))
        ),
        skills=frozenset(rng.sample(SKILLS, rng.randint(0, 4))),
        lat=PLOCK[0] + rng.uniform(-0.3, 0.3) if located else None,
        lon=PLOCK[1] + rng.uniform(-0.5, 0.5) if located else None,
        max_travel_km=rng.choice((0.0, 2.0, 5.0, 10.0, 20.0, 40.0)),
        remote_ok=rng.random() < 0.4,
        availability=random_windows(rng, rng.randint(0, 6)),
        timezone=rng.choice(TIME_ZONES),
        capacity=capacity,
        active_matches=rng.randint(0, capacity),
        paused=rng.random() < 0.05,
    )


def random_request(
    rng: random.Random, now: datetime.datetime, volunteers: list[Volunteer]
) -> Request:
    located = rng.random() < 0.7
    return Request(
        request_id=uuid.UUID(int=rng.getrandbits(128)),
        beneficiary_locale=rng.choice(LANGUAGES),
        languages=tuple(rng.sample(LANGUAGES, rng.randint(1, 2))),
        skills=frozenset(rng.sample(SKILLS, rng.randint(0, 2))),
        lat=PLOCK[0] + rng.uniform(-0.3, 0.3) if located else None,
        lon=PLOCK[1] + rng.uniform(-0.5, 0.5) if located else None,
        remote_ok=rng.random() < 0.5,
        windows=random_windows(rng, rng.randint(1, 6)),
        timezone=rng.choice(TIME_ZONES),
        urgency=rng.choice(URGENCIES),
        needed_by=(now + datetime.timedelta(days=rng.randint(0, 40))).date(),
        submitted_at=now,
        excluded_volunteers=frozenset(v.volunteer_id for v in rng.sample(volunteers, 3)),
    )


def random_now(rng: random.Random) -> datetime.datetime:
    # Anywhere in 2026, so that horizons often contain a daylight-saving change.
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return start + datetime.timedelta(minutes=rng.randrange(365 * 24 * 60))


def test_vectorised_scorer_agrees_with_the_per_pair_reference() -> None:
    rng = random.Random(7)
    volunteers = [random_volunteer(rng) for _ in range(300)]
    index = VolunteerIndex(initial_rows=8)
    index.add_many(volunteers)
    rows = np.array([index.row_of(v.volunteer_id) for v in volunteers])
    outcomes: dict[str | None, int] = {}
    for _ in range(40):
        now = random_now(rng)
        request = random_request(rng, now, volunteers)
        evaluation = evaluate_rows(request, index, rows, now)
        for position, volunteer in enumerate(volunteers):
            reference = evaluate_pair(request, volunteer, now)
            assert evaluation.failed(position) == reference.failed
            outcomes[reference.failed] = outcomes.get(reference.failed, 0) + 1
            if reference.failed is None:
                assert abs(evaluation.score[position] - reference.score) <= 1e-9
                assert evaluation.reasons(position) == reference.reasons
                assert evaluation.proposal(position).volunteer_id == volunteer.volunteer_id
    # The random data exercises every outcome, passing included.
    assert set(outcomes) == {None, *CONSTRAINT_CODES}
    assert outcomes[None] >= 30


def test_rows_in_any_order_and_repeated_get_the_reference_outcome_at_each_position() -> None:
    # Each constraint is checked only on the rows that passed the earlier ones; positions
    # must still line up with the rows given, whatever their order.
    rng = random.Random(17)
    volunteers = [random_volunteer(rng) for _ in range(120)]
    index = VolunteerIndex()
    index.add_many(volunteers)
    by_row = {index.row_of(v.volunteer_id): v for v in volunteers}
    for _ in range(15):
        now = random_now(rng)
        request = random_request(rng, now, volunteers)
        rows = np.array(rng.choices(list(by_row), k=200))
        evaluation = evaluate_rows(request, index, rows, now)
        for position, row in enumerate(rows.tolist()):
            reference = evaluate_pair(request, by_row[row], now)
            assert evaluation.failed(position) == reference.failed
            if reference.failed is None:
                assert abs(evaluation.score[position] - reference.score) <= 1e-9


def test_one_request_prepared_alone_has_the_bitmap_of_a_batch() -> None:
    rng = random.Random(19)
    volunteers = [random_volunteer(rng) for _ in range(20)]
    index = VolunteerIndex()
    index.add_many(volunteers)
    for _ in range(30):
        now = random_now(rng)
        requests = [random_request(rng, now, volunteers) for _ in range(3)]
        batch = prepare_many(requests, index, now, WEIGHTS)
        for request, together in zip(requests, batch, strict=True):
            alone = prepare(request, index, now, WEIGHTS)
            np.testing.assert_array_equal(alone.bitmap, together.bitmap)
            np.testing.assert_array_equal(alone.intervals, together.intervals)


@pytest.mark.parametrize(
    "weights",
    [WEIGHTS, Weights(language=0.9, skills=0.1, distance=0.6, availability=0.8, load=0.1)],
    ids=["default", "weights summing to 2.5"],
)
def test_best_candidates_of_a_batch_are_the_best_of_a_full_evaluation(weights: Weights) -> None:
    rng = random.Random(11)
    volunteers = [random_volunteer(rng) for _ in range(400)]
    index = VolunteerIndex()
    index.add_many(volunteers)
    all_rows = np.array([index.row_of(v.volunteer_id) for v in volunteers])
    now = random_now(rng)
    requests = [random_request(rng, now, volunteers) for _ in range(30)]
    results = score_batch(requests, index, now, weights, top_k=5)
    matched = 0
    for request, result in zip(requests, results, strict=True):
        full = evaluate_rows(request, index, all_rows, now, weights)
        passing = np.flatnonzero(full.stage == 0)
        best = np.sort(full.score[passing])[::-1][:5]
        if isinstance(result, Unmatched):
            assert passing.size == 0
            continue
        matched += 1
        assert result.request is request
        np.testing.assert_allclose(result.scores, best, atol=1e-12)
        single = score_request(request, index, now, weights, top_k=5)
        assert isinstance(single, ScoredRequest)
        np.testing.assert_array_equal(single.rows, result.rows)
    assert matched >= 10


def test_batch_follows_load_changes_and_more_than_64_languages() -> None:
    # Language ids share bits of the first look-up beyond 64 languages, and loads change
    # after the grid was built: the batch must still equal a full evaluation.
    rng = random.Random(13)
    many = [f"x{number:02d}" for number in range(70)]
    volunteers = [
        replace(
            v,
            languages=(
                *v.languages,
                *(LanguageLevel(code, rng.choice(RANKED_LEVELS)) for code in rng.sample(many, 8)),
            ),
        )
        for v in (random_volunteer(rng) for _ in range(500))
    ]
    index = VolunteerIndex()
    index.add_many(volunteers)
    index.rebuild()
    for volunteer in rng.sample(volunteers, 60):
        index.set_load(
            volunteer.volunteer_id,
            rng.randint(0, volunteer.capacity),
            paused=rng.random() < 0.3,
        )
    all_rows = np.array([index.row_of(v.volunteer_id) for v in volunteers])
    now = random_now(rng)
    requests = [
        replace(
            random_request(rng, now, volunteers),
            languages=(rng.choice(many), rng.choice(many)),
            skills=frozenset(rng.sample(SKILLS, rng.randint(1, 2))),
        )
        for _ in range(30)
    ]
    results = score_batch(requests, index, now, top_k=4)
    matched = 0
    for request, result in zip(requests, results, strict=True):
        full = evaluate_rows(request, index, all_rows, now)
        passing = np.flatnonzero(full.stage == 0)
        if isinstance(result, Unmatched):
            assert passing.size == 0
            continue
        matched += 1
        best = np.sort(full.score[passing])[::-1][:4]
        np.testing.assert_allclose(result.scores, best, atol=1e-12)
    assert matched >= 5


# --- why a request is unmatched -------------------------------------------------------------


def test_no_volunteers_at_all() -> None:
    assert explain_unmatched(make_request(), VolunteerIndex(), NOW).reasons == [
        {"code": "no_volunteers"}
    ]
    result = score_request(make_request(), VolunteerIndex(), NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons == [{"code": "no_volunteers"}]


def test_unmatched_reasons_follow_the_funnel_with_the_decisive_constraint_first() -> None:
    index = VolunteerIndex()
    index.add(make_volunteer(max_travel_km=1.0))  # out of reach
    index.add(make_volunteer(languages=(LanguageLevel("fi", "native"),)))  # no shared language
    index.add(make_volunteer(skills=frozenset({"housing"})))  # reaches the skills stage
    index.add(make_volunteer(skills=frozenset({"childcare"})))
    request = make_request(skills=frozenset({"legal_aid"}))
    result = score_request(request, index, NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons == [
        {"code": "missing_skill", "count": 2, "skills": ["legal_aid"]},
        {"code": "out_of_reach", "count": 1},
        {"code": "no_shared_language", "count": 1, "languages": ["uk"]},
    ]


def test_unmatched_by_language_names_the_beneficiary_s_languages() -> None:
    index = VolunteerIndex()
    for _ in range(3):
        index.add(make_volunteer())
    result = score_request(make_request(languages=("ka",)), index, NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons == [{"code": "no_shared_language", "count": 3, "languages": ["ka"]}]


def test_unmatched_by_capacity_and_by_time() -> None:
    index = VolunteerIndex()
    index.add(make_volunteer(active_matches=2, capacity=2))
    index.add(make_volunteer(paused=True))
    result = score_request(make_request(), index, NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons == [{"code": "no_capacity", "count": 2}]

    index.add(make_volunteer(availability=(window("sat", "10:00", "12:00"),)))
    result = score_request(make_request(), index, NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons == [
        {"code": "no_time_overlap", "count": 1},
        {"code": "no_capacity", "count": 2},
    ]


def test_missing_skills_name_those_nobody_in_the_funnel_has() -> None:
    index = VolunteerIndex()
    index.add(make_volunteer(skills=frozenset({"legal_aid"})))
    index.add(make_volunteer(skills=frozenset({"translation"})))
    both = make_request(skills=frozenset({"legal_aid", "translation"}))
    result = score_request(both, index, NOW)
    assert isinstance(result, Unmatched)  # each skill exists, the combination does not
    assert result.reasons[0] == {
        "code": "missing_skill",
        "count": 2,
        "skills": ["legal_aid", "translation"],
    }
    unknown = make_request(skills=frozenset({"legal_aid", "childcare"}))
    result = score_request(unknown, index, NOW)
    assert isinstance(result, Unmatched)
    assert result.reasons[0] == {"code": "missing_skill", "count": 2, "skills": ["childcare"]}


def signatures_after_warm_up_and_use() -> tuple[list[int], list[int]]:
    """How many compiled versions each loop has after ``compile_kernels``, then after use."""
    compile_kernels()
    kernels = (_stage_kernel, _overlap_kernel)
    compiled = [len(kernel.signatures) for kernel in kernels]
    rng = random.Random(23)
    volunteers = [random_volunteer(rng) for _ in range(200)]
    index = VolunteerIndex()
    index.add_many(volunteers)
    now = random_now(rng)
    requests = [random_request(rng, now, volunteers) for _ in range(20)]
    results = score_batch(requests, index, now)
    assert any(isinstance(result, ScoredRequest) for result in results)
    evaluate_rows(requests[0], index, np.arange(len(volunteers)), now)
    return compiled, [len(kernel.signatures) for kernel in kernels]


def test_compiling_ahead_covers_the_types_a_real_batch_uses() -> None:
    # The matcher compiles its loops at start; a batch must not need another compilation.
    # In a fresh interpreter: loops compiled by earlier tests here would hide a mismatch.
    script = (
        "import json\n"
        "from tests.unit.matcher.test_scoring import signatures_after_warm_up_and_use\n"
        "print(json.dumps(signatures_after_warm_up_and_use()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after_warm_up, after_use = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(after_warm_up)
    assert after_use == after_warm_up
