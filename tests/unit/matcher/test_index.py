"""The volunteer index: changes, geographic retrieval against brute force, remote lists, size."""

from __future__ import annotations

import datetime
import math
import random
import uuid
from dataclasses import replace

import numpy as np
import pytest

from services.matcher.domain.index import EVERYONE, VolunteerIndex
from services.matcher.domain.model import RANKED_LEVELS, LanguageLevel, Volunteer, WeeklyWindow

CENTRE = (52.546, 19.706)
SKILLS = ("legal_aid", "translation", "job_search", "housing", "childcare")
LANGUAGES = ("pl", "uk", "ru", "en", "fi")


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Brute-force reference, written independently of the index (spherical law of cosines)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    cosine = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
        math.radians(lon2 - lon1)
    )
    return 6371.0088 * math.acos(max(-1.0, min(1.0, cosine)))


def random_volunteer(rng: random.Random) -> Volunteer:
    located = rng.random() < 0.9
    return Volunteer(
        volunteer_id=uuid.UUID(int=rng.getrandbits(128)),
        locale="pl",
        languages=tuple(
            LanguageLevel(code, rng.choice(RANKED_LEVELS))
            for code in rng.sample(LANGUAGES, rng.randint(1, 3))
        ),
        skills=frozenset(rng.sample(SKILLS, rng.randint(0, 3))),
        lat=CENTRE[0] + rng.gauss(0, 0.25) if located else None,
        lon=CENTRE[1] + rng.gauss(0, 0.4) if located else None,
        max_travel_km=rng.choice((1.0, 3.0, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0)),
        remote_ok=rng.random() < 0.4 or not located,
        availability=(WeeklyWindow("tue", datetime.time(17), datetime.time(19)),),
        timezone="Europe/Warsaw",
        capacity=2,
        active_matches=0,
    )


def brute_force_in_reach(
    volunteers: dict[uuid.UUID, Volunteer], lat: float, lon: float, skill: str | None
) -> dict[uuid.UUID, float]:
    found = {}
    for volunteer in volunteers.values():
        if volunteer.lat is None or volunteer.lon is None:
            continue
        if skill is not None and skill not in volunteer.skills:
            continue
        distance = great_circle_km(lat, lon, volunteer.lat, volunteer.lon)
        if distance <= volunteer.max_travel_km:
            found[volunteer.volunteer_id] = distance
    return found


def assert_retrieval_matches_brute_force(
    index: VolunteerIndex, volunteers: dict[uuid.UUID, Volunteer], rng: random.Random
) -> int:
    points = [(CENTRE[0] + rng.gauss(0, 0.2), CENTRE[1] + rng.gauss(0, 0.3)) for _ in range(25)]
    total = 0
    for anchor_skill in (None, *SKILLS):
        anchor = EVERYONE if anchor_skill is None else index.skills.get(anchor_skill)
        assert anchor is not None
        results = index.in_person_rows_many(
            np.array([p[0] for p in points]),
            np.array([p[1] for p in points]),
            [anchor] * len(points),
        )
        for (lat, lon), (rows, distances) in zip(points, results, strict=True):
            expected = brute_force_in_reach(volunteers, lat, lon, anchor_skill)
            found = {
                index.volunteer_id_at(int(row)): float(d)
                for row, d in zip(rows, distances, strict=True)
            }
            assert len(found) == rows.size  # no volunteer twice
            # Nobody within 1 m of the edge of their reach in random data, so sets must match.
            assert set(found) == set(expected)
            for volunteer_id, distance in found.items():
                assert distance == pytest.approx(expected[volunteer_id], abs=1e-4)  # 10 cm
            total += rows.size
    return total


def test_retrieval_finds_exactly_the_volunteers_within_their_own_reach() -> None:
    rng = random.Random(1)
    volunteers = {v.volunteer_id: v for v in (random_volunteer(rng) for _ in range(3000))}
    index = VolunteerIndex(initial_rows=16)
    index.add_many(volunteers.values())
    index.rebuild()
    assert assert_retrieval_matches_brute_force(index, volunteers, rng) > 1000

    # Changes since the last build: moved, changed reach or skills, removed, new.
    for volunteer in rng.sample(list(volunteers.values()), 150):
        changed = replace(
            volunteer,
            lat=CENTRE[0] + rng.gauss(0, 0.2),
            lon=CENTRE[1] + rng.gauss(0, 0.3),
            max_travel_km=volunteer.max_travel_km * rng.choice((0.5, 2.0)),
            skills=frozenset(rng.sample(SKILLS, 2)),
        )
        index.update(changed)
        volunteers[volunteer.volunteer_id] = changed
    for volunteer_id in rng.sample(list(volunteers), 150):
        assert index.remove(volunteer_id)
        del volunteers[volunteer_id]
    for _ in range(150):
        volunteer = random_volunteer(rng)
        index.add(volunteer)
        volunteers[volunteer.volunteer_id] = volunteer
    assert len(index) == len(volunteers)
    assert_retrieval_matches_brute_force(index, volunteers, rng)  # side list and stale rows

    index.rebuild()
    assert_retrieval_matches_brute_force(index, volunteers, rng)


@pytest.mark.parametrize(
    "centre",
    [(-16.5, 179.9), (65.6, -180.0), (89.8, 30.0), (-89.9, -120.0), (0.0, 0.0)],
    ids=["antimeridian", "antimeridian-west", "north-pole", "south-pole", "equator"],
)
def test_grid_retrieval_across_the_antimeridian_and_at_the_poles(
    centre: tuple[float, float],
) -> None:
    rng = random.Random(7)
    volunteers = {}
    for _ in range(1500):
        lat = max(-90.0, min(90.0, centre[0] + rng.gauss(0, 0.3)))
        lon = (centre[1] + rng.gauss(0, 0.6) + 180.0) % 360.0 - 180.0
        volunteer = replace(random_volunteer(rng), lat=lat, lon=lon)
        volunteers[volunteer.volunteer_id] = volunteer
    index = VolunteerIndex()
    index.add_many(volunteers.values())
    index.rebuild()
    points = [
        (max(-90.0, min(90.0, centre[0] + rng.gauss(0, 0.2))), centre[1] + rng.gauss(0, 0.4))
        for _ in range(30)
    ]
    results = index.in_person_rows_many(
        np.array([p[0] for p in points]), np.array([p[1] for p in points])
    )
    found_any = 0
    for (lat, lon), (rows, _) in zip(points, results, strict=True):
        found = {index.volunteer_id_at(int(row)) for row in rows}
        assert len(found) == rows.size
        assert found == set(brute_force_in_reach(volunteers, lat, lon, None))
        found_any += rows.size
    assert found_any > 100


def test_a_volunteer_added_after_the_trees_were_built_is_found_straight_away() -> None:
    index = VolunteerIndex()
    rng = random.Random(2)
    for _ in range(500):
        index.add(random_volunteer(rng))
    index.rebuild()
    newcomer = replace(random_volunteer(rng), lat=CENTRE[0], lon=CENTRE[1], max_travel_km=1.0)
    index.add(newcomer)
    rows, _ = index.in_person_rows(CENTRE[0], CENTRE[1])
    assert index.row_of(newcomer.volunteer_id) in rows.tolist()

    moved = replace(newcomer, lat=CENTRE[0] + 0.5)  # about 55 km north
    index.update(moved)
    rows, _ = index.in_person_rows(CENTRE[0], CENTRE[1])
    assert index.row_of(newcomer.volunteer_id) not in rows.tolist()
    rows, _ = index.in_person_rows(CENTRE[0] + 0.5, CENTRE[1])
    assert index.row_of(newcomer.volunteer_id) in rows.tolist()

    assert index.remove(newcomer.volunteer_id)
    assert not index.remove(newcomer.volunteer_id)
    assert newcomer.volunteer_id not in index
    rows, _ = index.in_person_rows(CENTRE[0] + 0.5, CENTRE[1])
    assert all(index.alive[rows])


def test_remote_lists_match_brute_force_without_duplicates() -> None:
    rng = random.Random(3)
    volunteers = [random_volunteer(rng) for _ in range(2000)]
    index = VolunteerIndex()
    index.add_many(volunteers)
    remote = {index.volunteer_id_at(int(row)) for row in index.remote_rows()}
    assert remote == {v.volunteer_id for v in volunteers if v.remote_ok}
    for skill in SKILLS:
        anchor = index.skills.get(skill)
        assert anchor is not None
        for languages in (["uk"], ["uk", "ru"], ["en", "pl", "fi"]):
            ids = [index.languages.get(code) for code in languages]
            rows = index.remote_rows(anchor, [i for i in ids if i is not None])
            assert len(set(rows.tolist())) == rows.size
            found = {index.volunteer_id_at(int(row)) for row in rows}
            expected = {
                v.volunteer_id
                for v in volunteers
                if v.remote_ok
                and skill in v.skills
                and {lang.code for lang in v.languages} & set(languages)
            }
            assert found == expected
    # Lists follow changes.
    leaving = next(v for v in volunteers if v.remote_ok)
    index.update(replace(leaving, remote_ok=False))
    assert index.row_of(leaving.volunteer_id) not in index.remote_rows().tolist()


def test_rows_are_reused_and_columns_follow_changes() -> None:
    rng = random.Random(4)
    index = VolunteerIndex(initial_rows=2)
    first, second, third = (random_volunteer(rng) for _ in range(3))
    index.add(first)
    index.add(second)
    with pytest.raises(ValueError, match="already indexed"):
        index.add(first)
    with pytest.raises(KeyError):
        index.update(third)
    row = index.row_of(second.volunteer_id)
    index.remove(second.volunteer_id)
    index.add(third)
    assert index.row_of(third.volunteer_id) == row  # the free row is reused
    assert index.volunteer_id_at(row) == third.volunteer_id
    with pytest.raises(KeyError):
        index.row_of(second.volunteer_id)

    spoken = sum({1 << index.languages.add(lang.code) % 64 for lang in third.languages})
    assert index.open_language_bits[row] == spoken
    index.set_load(third.volunteer_id, active_matches=third.capacity)
    assert not index.has_room[row]
    assert index.open_language_bits[row] == 0  # no room: no pair passes the first look-up
    index.set_load(third.volunteer_id, active_matches=0, paused=True)
    assert not index.has_room[row]
    assert index.open_language_bits[row] == 0
    index.set_load(third.volunteer_id, active_matches=0, paused=False)
    assert index.has_room[row]
    assert index.open_language_bits[row] == spoken

    language = index.languages.get("ka")
    assert language is None  # nobody speaks it yet
    index.update(replace(third, languages=(LanguageLevel("ka", "fluent"),)))
    language = index.languages.get("ka")
    assert language is not None
    assert index.levels[language, row] == 3


def test_bad_input_is_refused() -> None:
    volunteer = random_volunteer(random.Random(5))
    index = VolunteerIndex()
    with pytest.raises(Exception, match="Mars"):
        index.add(replace(volunteer, timezone="Mars/Olympus_Mons"))
    with pytest.raises(ValueError):
        index.add(replace(volunteer, capacity=-1))
    index.add(replace(volunteer, skills=frozenset(f"skill_{n}" for n in range(64))))
    with pytest.raises(ValueError, match="64"):
        index.add(replace(volunteer, volunteer_id=uuid.uuid4(), skills=frozenset({"one_more"})))


def test_memory_footprint_is_reported_and_plausible() -> None:
    rng = random.Random(6)
    index = VolunteerIndex()
    index.add_many(random_volunteer(rng) for _ in range(5000))
    before = index.memory_bytes()
    index.rebuild()
    after = index.memory_bytes()
    assert after > before  # the trees count
    assert 5000 * 100 < after < 5000 * 2000  # between 100 B and 2 kB per volunteer
