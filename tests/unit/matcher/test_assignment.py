"""Capacity-aware batch assignment: optimality, urgency, load spreading, the greedy baseline."""

from __future__ import annotations

import datetime
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from services.matcher.domain.assignment import (
    NO_VOLUNTEER,
    CandidateList,
    assign,
    match_batch,
    solve_assignment,
)
from services.matcher.domain.candidates import ScoredRequest, score_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import (
    LanguageLevel,
    Request,
    Volunteer,
    WeeklyWindow,
    Weights,
)
from shared.vocabulary import URGENCIES, Urgency
from tests.matcher_reference import assignment_value, greedy_assignment

WEIGHTS = Weights()


def exhaustive_value(
    lists: Sequence[CandidateList], free: Sequence[int], capacity: Sequence[int]
) -> float:
    """The best objective over every possible choice, written out plainly.

    A volunteer's j-th booking in the batch (j from 0) is worth urgency * (score - load
    weight * j / capacity); the more urgent requests take the earlier bookings.
    """
    best = 0.0
    options = [[NO_VOLUNTEER, *map(int, c.volunteers)] for c in lists]
    for choice in itertools.product(*options):
        taken = Counter(v for v in choice if v != NO_VOLUNTEER)
        if any(count > free[v] for v, count in taken.items()):
            continue
        value = 0.0
        multipliers: dict[int, list[float]] = {}
        for candidates, volunteer in zip(lists, choice, strict=True):
            if volunteer == NO_VOLUNTEER:
                continue
            multiplier = WEIGHTS.urgency_multiplier(candidates.urgency)
            score = float(candidates.scores[list(candidates.volunteers).index(volunteer)])
            value += multiplier * score
            multipliers.setdefault(volunteer, []).append(multiplier)
        for volunteer, values in multipliers.items():
            for booking, multiplier in enumerate(sorted(values, reverse=True)):
                value -= multiplier * WEIGHTS.load * booking / capacity[volunteer]
        best = max(best, value)
    return best


def random_instance(
    rng: np.random.Generator, requests: int, volunteers: int, max_candidates: int
) -> tuple[list[CandidateList], np.ndarray, np.ndarray]:
    capacity = rng.integers(1, 3, size=volunteers)
    free = capacity - rng.integers(0, 2, size=volunteers) * (capacity > 1)
    lists = []
    for _ in range(requests):
        count = int(rng.integers(1, min(volunteers, max_candidates) + 1))
        chosen = rng.choice(volunteers, size=count, replace=False).astype(np.int64)
        lists.append(
            CandidateList(
                URGENCIES[int(rng.integers(4))], chosen, rng.uniform(0.2, 1.0, size=count)
            )
        )
    return lists, free, capacity


def assert_feasible(
    lists: Sequence[CandidateList], chosen: Sequence[int], free: np.ndarray
) -> None:
    taken = Counter(v for v in chosen if v != NO_VOLUNTEER)
    assert all(count <= free[v] for v, count in taken.items())
    for candidates, volunteer in zip(lists, chosen, strict=True):
        assert volunteer == NO_VOLUNTEER or volunteer in candidates.volunteers


def test_assignment_is_optimal_on_small_instances() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(200):
        requests, volunteers = int(rng.integers(1, 7)), int(rng.integers(1, 6))
        lists, free, capacity = random_instance(rng, requests, volunteers, max_candidates=5)
        optimum = exhaustive_value(lists, free.tolist(), capacity.tolist())
        for dense_cell_limit in (10**6, 0):  # the dense and the sparse solver
            chosen = solve_assignment(lists, free, capacity, WEIGHTS, dense_cell_limit)
            assert_feasible(lists, chosen, free)
            assert assignment_value(lists, chosen, capacity, WEIGHTS) == pytest.approx(
                optimum, abs=1e-9
            )


def test_assignment_is_never_worse_than_greedy_on_larger_instances() -> None:
    rng = np.random.default_rng(7)
    gains = []
    for number in range(30):
        lists, free, capacity = random_instance(rng, 150, 60, max_candidates=12)
        # Half the instances go through the sparse solver as one large component.
        limit = 0 if number % 2 else 10**6
        optimal = solve_assignment(lists, free, capacity, WEIGHTS, dense_cell_limit=limit)
        greedy = greedy_assignment(lists, free, capacity, WEIGHTS)
        assert_feasible(lists, optimal, free)
        assert_feasible(lists, greedy, free)
        optimal_value = assignment_value(lists, optimal, capacity, WEIGHTS)
        greedy_value = assignment_value(lists, greedy, capacity, WEIGHTS)
        assert optimal_value >= greedy_value - 1e-9
        gains.append(optimal_value / greedy_value - 1)
    print(
        f"\nassignment vs greedy on 30 instances of 150 requests and 60 volunteers: "
        f"{np.mean(gains):+.2%} on average, {min(gains):+.2%} to {max(gains):+.2%}"
    )
    assert np.mean(gains) > 0.005  # scarce volunteers: the difference is real


def test_the_critical_request_wins_a_scarce_volunteer() -> None:
    lists = [
        CandidateList("low", np.array([0]), np.array([0.9])),
        CandidateList("critical", np.array([0]), np.array([0.7])),
    ]
    chosen = solve_assignment(lists, np.array([1]), np.array([1]))
    assert chosen == [NO_VOLUNTEER, 0]
    assert greedy_assignment(lists, np.array([1]), np.array([1])) == [0, NO_VOLUNTEER]


def test_a_second_booking_is_worth_less_so_work_is_spread() -> None:
    # Volunteer 0 is slightly better for both but the second booking would cost half a load
    # step; volunteer 1 is nearly as good and free.
    lists = [
        CandidateList("normal", np.array([0, 1]), np.array([0.80, 0.78])),
        CandidateList("normal", np.array([0, 1]), np.array([0.80, 0.78])),
    ]
    free, capacity = np.array([2, 1]), np.array([2, 1])
    assert sorted(solve_assignment(lists, free, capacity)) == [0, 1]
    assert greedy_assignment(lists, free, capacity) == [0, 0]
    # When nobody else is there, the second slot is used.
    alone = [CandidateList("normal", np.array([0]), np.array([0.8]))] * 2
    assert solve_assignment(alone, free, capacity) == [0, 0]


def test_a_volunteer_is_never_booked_beyond_free_slots() -> None:
    lists = [CandidateList("high", np.array([0, 1]), np.array([0.9, 0.5])) for _ in range(5)]
    chosen = solve_assignment(lists, np.array([2, 1]), np.array([3, 1]))
    assert Counter(chosen) == {0: 2, 1: 1, NO_VOLUNTEER: 2}


def test_a_candidate_list_must_not_name_a_volunteer_twice() -> None:
    lists = [CandidateList("low", np.array([3, 3]), np.array([0.5, 0.6]))]
    with pytest.raises(ValueError, match="twice"):
        solve_assignment(lists, np.array([1, 1, 1, 1]), np.array([1, 1, 1, 1]))


# --- the whole batch against an index -------------------------------------------------------

NOW = datetime.datetime(2026, 1, 12, 8, 0, tzinfo=datetime.UTC)
TUESDAY = (WeeklyWindow("tue", datetime.time(17), datetime.time(19)),)


def volunteer(
    capacity: int = 1, lon: float = 19.72, skills: frozenset[str] = frozenset({"legal_aid"})
) -> Volunteer:
    return Volunteer(
        volunteer_id=uuid.uuid4(),
        locale="pl",
        languages=(LanguageLevel("uk", "native"),),
        skills=skills,
        lat=52.546,
        lon=lon,
        max_travel_km=10.0,
        remote_ok=False,
        availability=TUESDAY,
        timezone="Europe/Warsaw",
        capacity=capacity,
        active_matches=0,
    )


def request(
    urgency: Urgency = "normal", minutes_ago: int = 10, excluded: frozenset[uuid.UUID] = frozenset()
) -> Request:
    return Request(
        request_id=uuid.uuid4(),
        beneficiary_locale="uk",
        languages=("uk",),
        skills=frozenset({"legal_aid"}),
        lat=52.546,
        lon=19.706,
        remote_ok=False,
        windows=TUESDAY,
        timezone="Europe/Warsaw",
        urgency=urgency,
        needed_by=datetime.date(2026, 1, 18),
        submitted_at=NOW - datetime.timedelta(minutes=minutes_ago),
        excluded_volunteers=excluded,
    )


def test_a_request_outbid_for_every_candidate_is_unmatched_for_lack_of_capacity() -> None:
    index = VolunteerIndex()
    only = volunteer(capacity=1)
    index.add(only)
    early_low, late_critical = request("low", minutes_ago=60), request("critical", minutes_ago=5)
    proposals, unmatched = match_batch([early_low, late_critical], index, NOW)
    assert [(p.request_id, p.volunteer_id) for p in proposals] == [
        (late_critical.request_id, only.volunteer_id)
    ]
    assert [(u.request_id, u.reasons) for u in unmatched] == [
        (early_low.request_id, [{"code": "no_capacity", "count": 1}])
    ]
    proposal = proposals[0]
    assert set(proposal.breakdown) == {"language", "skills", "distance", "availability", "load"}
    assert proposal.score == pytest.approx(
        sum(getattr(WEIGHTS, name) * value for name, value in proposal.breakdown.items())
    )
    assert proposal.reasons[0] == {"code": "shared_language", "language": "uk", "level": "native"}


def test_batch_spreads_requests_over_volunteers_and_respects_exclusions() -> None:
    index = VolunteerIndex()
    volunteers = [volunteer(capacity=2, lon=19.71 + 0.01 * n) for n in range(3)]
    index.add_many(volunteers)
    declined = volunteers[0].volunteer_id
    requests = [request(excluded=frozenset({declined})) for _ in range(5)]
    proposals, unmatched = match_batch(requests, index, NOW)
    assert len(proposals) == 4  # two free volunteers with two slots each
    assert len(unmatched) == 1
    assert unmatched[0].reasons == [{"code": "no_capacity", "count": 2}]
    per_volunteer = Counter(p.volunteer_id for p in proposals)
    assert declined not in per_volunteer
    assert all(count <= 2 for count in per_volunteer.values())
    # Nothing is booked in the index by matching itself.
    assert all(index.active[index.row_of(v.volunteer_id)] == 0 for v in volunteers)


def test_batch_reports_why_requests_without_candidates_are_unmatched() -> None:
    index = VolunteerIndex()
    index.add(volunteer(skills=frozenset({"housing"})))
    proposals, unmatched = match_batch([request()], index, NOW)
    assert proposals == []
    assert unmatched[0].reasons == [{"code": "missing_skill", "count": 1, "skills": ["legal_aid"]}]


def test_random_batches_agree_with_their_own_objective() -> None:
    rng = random.Random(12)
    index = VolunteerIndex()
    volunteers = [
        volunteer(capacity=rng.randint(1, 2), lon=19.70 + rng.uniform(-0.05, 0.05))
        for _ in range(15)
    ]
    index.add_many(volunteers)
    requests = [request(rng.choice(URGENCIES), minutes_ago=rng.randint(1, 500)) for _ in range(40)]
    proposals, unmatched = match_batch(requests, index, NOW)
    assert len(proposals) + len(unmatched) == len(requests)
    assert len(proposals) == sum(v.capacity for v in volunteers)  # every slot is used
    booked = Counter(p.volunteer_id for p in proposals)
    assert all(booked[v.volunteer_id] <= v.capacity for v in volunteers)
    # All requests are at one place, so each volunteer suits them all equally: the scarce
    # slots go to the most urgent requests.
    urgency_of = {r.request_id: URGENCIES.index(r.urgency) for r in requests}
    served = [urgency_of[p.request_id] for p in proposals]
    left = [urgency_of[u.request_id] for u in unmatched]
    assert min(served) >= max(left)


def test_greedy_assign_serves_in_arrival_order_where_assign_looks_at_the_whole_batch() -> None:
    index = VolunteerIndex()
    near, far = volunteer(capacity=1, lon=19.71), volunteer(capacity=1, lon=19.80)
    index.add_many([near, far])
    first = request(minutes_ago=30)  # at 19.706: both volunteers within reach, near is closer
    second = replace(request(minutes_ago=5), lon=19.62)  # far is 12 km away, beyond its reach
    scored = [s for s in score_batch([first, second], index, NOW) if isinstance(s, ScoredRequest)]
    assert len(scored) == 2

    greedy, greedy_left = assign(scored, index, solver=greedy_assignment)
    assert [(p.request_id, p.volunteer_id) for p in greedy] == [
        (first.request_id, near.volunteer_id)
    ]
    assert [u.request_id for u in greedy_left] == [second.request_id]

    best, best_left = assign(scored, index)
    assert {(p.request_id, p.volunteer_id) for p in best} == {
        (first.request_id, far.volunteer_id),
        (second.request_id, near.volunteer_id),
    }
    assert best_left == []
