"""Weekly windows on concrete dates: time zones, daylight-saving changes, the bitmap pre-filter."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from services.matcher.domain.availability import (
    MIN_SHARED_SLOTS,
    Horizon,
    RequestTimes,
    concrete_intervals,
    concrete_intervals_flat,
    concrete_intervals_many,
    local_to_utc,
    planning_horizon,
    request_bitmap,
    request_bitmaps,
    vector_overlap,
    volunteer_bitmap,
    weekly_matrix,
    weekly_minutes,
)
from services.matcher.domain.model import WeeklyWindow
from shared.vocabulary import DAYS
from tests.matcher_reference import pair_overlap

UTC = datetime.UTC
HOUR = 3600


def window(day: str, start: str, end: str) -> WeeklyWindow:
    return WeeklyWindow(
        day,  # type: ignore[arg-type]
        datetime.time.fromisoformat(start),
        datetime.time.fromisoformat(end),
    )


def at(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def overlap(
    volunteer: tuple[WeeklyWindow, ...],
    volunteer_zone: str,
    request: tuple[WeeklyWindow, ...],
    request_zone: str,
    now: str,
    needed_by: str,
) -> tuple[int, int, tuple[int, int] | None]:
    """(total, longest, first slot) by the reference, checked against the vectorised path."""
    horizon = planning_horizon(
        datetime.datetime.fromisoformat(now).replace(tzinfo=UTC),
        datetime.date.fromisoformat(needed_by),
        request_zone,
    )
    reference = pair_overlap(volunteer, volunteer_zone, request, request_zone, horizon, HOUR)
    starts, ends = weekly_matrix([weekly_minutes(volunteer)])
    vectorised = vector_overlap(
        starts,
        ends,
        np.zeros(1, dtype=np.int64),
        [volunteer_zone],
        np.zeros(1, dtype=np.int64),
        RequestTimes.of([concrete_intervals(request, request_zone, horizon)], [horizon]),
        HOUR,
    )
    slot = reference.first_slot or (-1, -1)
    assert int(vectorised.total_seconds[0]) == reference.total_seconds
    assert int(vectorised.longest_seconds[0]) == reference.longest_seconds
    assert (int(vectorised.first_start[0]), int(vectorised.first_end[0])) == slot
    return reference.total_seconds, reference.longest_seconds, reference.first_slot


def test_horizon_runs_from_now_to_the_end_of_needed_by_in_the_request_s_zone() -> None:
    now = datetime.datetime(2026, 1, 12, 8, 30, 15, tzinfo=UTC)
    horizon = planning_horizon(now, datetime.date(2026, 1, 14), "Europe/Warsaw")
    assert horizon == Horizon(at("2026-01-12T08:30:15"), at("2026-01-14T23:00:00"))
    far = planning_horizon(now, datetime.date(2027, 1, 1), "Europe/Warsaw", max_days=56)
    assert far.end - far.start == 56 * 86_400
    past = planning_horizon(now, datetime.date(2026, 1, 1), "Europe/Warsaw")
    assert past.end == past.start
    with pytest.raises(ValueError, match="timezone-aware"):
        planning_horizon(now.replace(tzinfo=None), datetime.date(2026, 1, 14), "Europe/Warsaw")


def test_windows_are_laid_on_concrete_dates_in_their_zone_and_clipped_to_the_horizon() -> None:
    horizon = Horizon(at("2026-01-13T16:30:00"), at("2026-01-21T00:00:00"))
    intervals = concrete_intervals((window("tue", "17:00", "19:00"),), "Europe/Helsinki", horizon)
    # Helsinki is UTC+2 in January; the first Tuesday is cut by the start of the horizon.
    assert intervals == [
        (at("2026-01-13T16:30:00"), at("2026-01-13T17:00:00")),
        (at("2026-01-20T15:00:00"), at("2026-01-20T17:00:00")),
    ]


def test_helsinki_volunteer_and_warsaw_request_share_time_in_real_time() -> None:
    volunteer = (window("tue", "18:00", "20:00"),)  # Helsinki: 16:00-18:00 UTC in winter
    total, longest, slot = overlap(
        volunteer,
        "Europe/Helsinki",
        (window("tue", "17:00", "18:30"),),  # Warsaw: 16:00-17:30 UTC
        "Europe/Warsaw",
        "2026-01-12T08:00:00",
        "2026-01-18",
    )
    assert (total, longest) == (90 * 60, 90 * 60)
    assert slot == (at("2026-01-13T16:00:00"), at("2026-01-13T17:30:00"))
    # Same wall-clock hours would overlap by an hour if the zones were ignored.
    total, _, slot = overlap(
        volunteer,
        "Europe/Helsinki",
        (window("tue", "19:00", "21:00"),),
        "Europe/Warsaw",
        "2026-01-12T08:00:00",
        "2026-01-18",
    )
    assert total == 0
    assert slot is None


# A Georgian volunteer in Tbilisi (UTC+4 all year) and a request in Płock (Warsaw time).
TBILISI = (window("mon", "20:00", "21:00"),)  # 16:00-17:00 UTC
WARSAW_MONDAY = (window("mon", "17:00", "18:00"),)  # 16:00-17:00 UTC in winter, 15:00 in summer


def test_spring_change_a_window_that_overlaps_in_winter_time_does_not_after_it() -> None:
    # The week before the change (Monday 23 March): an hour together.
    before = overlap(
        TBILISI, "Asia/Tbilisi", WARSAW_MONDAY, "Europe/Warsaw", "2026-03-19T09:00:00", "2026-03-25"
    )
    assert before[:2] == (HOUR, HOUR)
    # The week containing the last Sunday of March: its Monday, 30 March, is summer time.
    after = overlap(
        TBILISI, "Asia/Tbilisi", WARSAW_MONDAY, "Europe/Warsaw", "2026-03-26T09:00:00", "2026-04-01"
    )
    assert after == (0, 0, None)
    # A horizon spanning both Mondays keeps only the first.
    both = overlap(
        TBILISI, "Asia/Tbilisi", WARSAW_MONDAY, "Europe/Warsaw", "2026-03-19T09:00:00", "2026-04-01"
    )
    assert both == (HOUR, HOUR, (at("2026-03-23T16:00:00"), at("2026-03-23T17:00:00")))


def test_autumn_change_a_window_that_overlaps_in_summer_time_does_not_after_it() -> None:
    tbilisi = (window("mon", "19:00", "20:00"),)  # 15:00-16:00 UTC
    summer = overlap(
        tbilisi, "Asia/Tbilisi", WARSAW_MONDAY, "Europe/Warsaw", "2026-10-15T09:00:00", "2026-10-21"
    )
    assert summer[:2] == (HOUR, HOUR)  # Monday 19 October, summer time
    # The week containing Sunday 25 October: Monday 26 October is winter time.
    winter = overlap(
        tbilisi, "Asia/Tbilisi", WARSAW_MONDAY, "Europe/Warsaw", "2026-10-22T09:00:00", "2026-10-28"
    )
    assert winter == (0, 0, None)


def test_the_skipped_hour_in_spring_does_not_count_twice() -> None:
    # On 29 March 2026 Warsaw skips 02:00-03:00. 01:00-02:30 reads 02:00-02:30 with the old
    # offset (00:00-01:30 UTC) and 03:00-04:00 is 01:00-02:00 UTC: they overlap in UTC.
    volunteer = (window("sun", "01:00", "02:30"), window("sun", "03:00", "04:00"))
    request = (window("sun", "00:00", "03:00"),)
    total, longest, slot = overlap(
        volunteer, "Europe/Warsaw", request, "UTC", "2026-03-28T00:00:00", "2026-03-29"
    )
    assert (total, longest) == (2 * HOUR, 2 * HOUR)
    assert slot == (at("2026-03-29T00:00:00"), at("2026-03-29T02:00:00"))


def test_the_repeated_hour_in_autumn_lasts_two_real_hours() -> None:
    # On 25 October 2026 Warsaw repeats 02:00-03:00: 02:00 (summer) is 00:00 UTC, 03:00
    # (winter) is 02:00 UTC.
    total, longest, _ = overlap(
        (window("sun", "02:00", "03:00"),),
        "Europe/Warsaw",
        (window("sun", "00:00", "04:00"),),
        "UTC",
        "2026-10-24T00:00:00",
        "2026-10-25",
    )
    assert (total, longest) == (2 * HOUR, 2 * HOUR)


def test_an_uninterrupted_hour_is_what_counts_as_long_enough() -> None:
    volunteer = (window("tue", "17:00", "17:40"), window("tue", "18:00", "18:40"))
    total, longest, slot = overlap(
        volunteer,
        "Europe/Warsaw",
        (window("tue", "17:00", "19:00"),),
        "Europe/Warsaw",
        "2026-01-12T08:00:00",
        "2026-01-18",
    )
    assert (total, longest, slot) == (80 * 60, 40 * 60, None)
    total, longest, slot = overlap(
        (window("tue", "17:00", "18:00"),),
        "Europe/Warsaw",
        (window("tue", "17:00", "19:00"),),
        "Europe/Warsaw",
        "2026-01-12T08:00:00",
        "2026-01-18",
    )
    assert (total, longest) == (HOUR, HOUR)
    assert slot is not None


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Warsaw",
        "Europe/Helsinki",
        "America/New_York",
        "Australia/Sydney",
        "Europe/Dublin",  # its "summer" offset is the standard one
        "Australia/Lord_Howe",  # a half-hour change
        "Asia/Tbilisi",
    ],
)
def test_wall_clock_to_utc_matches_zoneinfo_around_every_change(zone: str) -> None:
    tz = ZoneInfo(zone)
    walls, expected = [], []
    for day in range(365):
        for minute in range(0, 24 * 60, 10):
            wall = datetime.datetime(2026, 1, 1) + datetime.timedelta(days=day, minutes=minute)
            walls.append(int(wall.replace(tzinfo=UTC).timestamp()))
            expected.append(int(wall.replace(tzinfo=tz).timestamp()))  # fold=0
    np.testing.assert_array_equal(local_to_utc(np.array(walls, dtype=np.int64), zone), expected)


ZONES = ("Europe/Warsaw", "Europe/Helsinki", "Asia/Tbilisi", "America/New_York", "UTC")


def random_windows(rng: random.Random) -> tuple[WeeklyWindow, ...]:
    windows = []
    for _ in range(rng.randint(0, 6)):
        start = rng.randrange(0, 23 * 60)
        end = rng.randint(start + 1, min(start + 300, 23 * 60 + 59))
        day = rng.choice(DAYS)
        if rng.random() < 0.2:  # around the hours the clocks change
            day, start, end = "sun", rng.randrange(0, 150), rng.randrange(151, 300)
        windows.append(WeeklyWindow.from_minutes(day, start, end))
    return tuple(windows)


def random_horizon(rng: random.Random, zone: str) -> Horizon:
    now = datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(
        minutes=rng.randrange(525_600)
    )
    return planning_horizon(now, (now + datetime.timedelta(days=rng.randint(-1, 70))).date(), zone)


def test_vectorised_overlap_matches_the_reference_for_many_requests_at_once() -> None:
    rng = random.Random(3)
    for _ in range(40):
        requests = []
        for _ in range(6):
            zone = rng.choice(ZONES)
            windows, horizon = random_windows(rng), random_horizon(rng, zone)
            requests.append((windows, zone, horizon, concrete_intervals(windows, zone, horizon)))
        volunteers = [(random_windows(rng), rng.choice(ZONES)) for _ in range(30)]
        request_of_pair = np.array([rng.randrange(len(requests)) for _ in volunteers])
        starts, ends = weekly_matrix([weekly_minutes(windows) for windows, _ in volunteers])
        vectorised = vector_overlap(
            starts,
            ends,
            np.array([ZONES.index(zone) for _, zone in volunteers]),
            ZONES,
            request_of_pair,
            RequestTimes.of([r[3] for r in requests], [r[2] for r in requests]),
            HOUR,
        )
        for pair, (windows, zone) in enumerate(volunteers):
            request_windows, request_zone, horizon, _ = requests[int(request_of_pair[pair])]
            reference = pair_overlap(windows, zone, request_windows, request_zone, horizon, HOUR)
            assert vectorised.total_seconds[pair] == reference.total_seconds
            assert vectorised.longest_seconds[pair] == reference.longest_seconds
            slot = reference.first_slot or (-1, -1)
            assert (vectorised.first_start[pair], vectorised.first_end[pair]) == slot


def test_concrete_intervals_of_many_owners_match_one_at_a_time() -> None:
    rng = random.Random(5)
    owners = []
    for _ in range(500):
        zone = rng.choice((*ZONES, "Australia/Lord_Howe"))
        owners.append((random_windows(rng), zone, random_horizon(rng, zone)))
    many = concrete_intervals_many(
        [o[0] for o in owners], [o[1] for o in owners], [o[2] for o in owners]
    )
    assert many == [concrete_intervals(*owner) for owner in owners]


def test_weekly_bitmaps_never_reject_pairs_that_share_an_hour() -> None:
    rng = random.Random(9)
    shared_hour = rejected = 0
    for _ in range(3000):
        volunteer, volunteer_zone = random_windows(rng), rng.choice(ZONES)
        request, request_zone = random_windows(rng), rng.choice(ZONES)
        horizon = random_horizon(rng, request_zone)
        intervals = concrete_intervals(request, request_zone, horizon)
        reference = pair_overlap(volunteer, volunteer_zone, request, request_zone, horizon, HOUR)
        shared = np.bitwise_count(
            volunteer_bitmap(weekly_minutes(volunteer), volunteer_zone) & request_bitmap(intervals)
        ).sum()
        if reference.longest_seconds >= HOUR:
            shared_hour += 1
            assert shared >= MIN_SHARED_SLOTS
        elif shared < MIN_SHARED_SLOTS:
            rejected += 1
    assert shared_hour > 100
    assert rejected > 1000  # and it does reject most pairs that do not


def test_weekly_bitmap_marks_utc_slots() -> None:
    # Monday 00:00-01:00 in Warsaw is Sunday 22:00/23:00-24:00 UTC (summer/winter): the
    # volunteer bitmap covers both, wrapping round the end of the week.
    bits = volunteer_bitmap(weekly_minutes((window("mon", "00:00", "01:00"),)), "Europe/Warsaw")
    marked = [slot for slot in range(672) if int(bits[slot // 64]) >> (slot % 64) & 1]
    assert marked == list(range(672 - 8, 672))
    # A request interval on Tuesday 13 January 2026, 16:00-17:10 UTC.
    bits = request_bitmap([(at("2026-01-13T16:00:00"), at("2026-01-13T17:10:00"))])
    marked = [slot for slot in range(672) if int(bits[slot // 64]) >> (slot % 64) & 1]
    tuesday_16 = (24 + 16) * 4
    assert marked == list(range(tuesday_16, tuesday_16 + 5))


def test_request_bitmaps_of_many_match_one_at_a_time() -> None:
    rng = random.Random(11)
    owners = []
    for _ in range(300):
        zone = rng.choice(ZONES)
        owners.append((random_windows(rng), zone, random_horizon(rng, zone)))
    owner, start, end = concrete_intervals_flat(
        [o[0] for o in owners], [o[1] for o in owners], [o[2] for o in owners]
    )
    many = request_bitmaps(owner, start, end, len(owners))
    # Besides the real intervals: one longer than a week, one across Sunday midnight, one empty.
    week = 7 * 24 * HOUR
    extra = [
        (at("2026-01-12T10:00:00"), at("2026-01-12T10:00:00") + week + HOUR),
        (at("2026-01-18T23:20:00"), at("2026-01-19T00:50:30")),
        (at("2026-01-14T08:00:00"), at("2026-01-14T08:00:00")),
    ]
    special = request_bitmaps(
        np.arange(3), np.array([e[0] for e in extra]), np.array([e[1] for e in extra]), 3
    )
    for number, (windows, zone, horizon) in enumerate(owners):
        expected = request_bitmap(concrete_intervals(windows, zone, horizon))
        assert many[number].tolist() == expected.tolist()
    for number, interval in enumerate(extra):
        assert special[number].tolist() == request_bitmap([interval]).tolist()
