"""Warm-up: the compiled loops of the matcher, compiled before the first batch needs them."""

from __future__ import annotations

import datetime
from uuid import UUID

from services.matcher.domain.candidates import score_batch
from services.matcher.domain.index import VolunteerIndex
from services.matcher.domain.model import LanguageLevel, Request, Volunteer, WeeklyWindow


def compile_kernels() -> None:
    """Run the compiled loops once on a made-up pair, so a first batch does not wait for them.

    Numba compiles them on first use (about two seconds) and keeps the result on disk.
    """
    now = datetime.datetime(2026, 1, 5, 8, tzinfo=datetime.UTC)
    windows = (WeeklyWindow("tue", datetime.time(10), datetime.time(12)),)
    index = VolunteerIndex(initial_rows=1)
    index.add(
        Volunteer(
            volunteer_id=UUID(int=1),
            locale="en",
            languages=(LanguageLevel("en", "fluent"),),
            skills=frozenset({"paperwork"}),
            lat=52.5,
            lon=19.7,
            max_travel_km=10.0,
            remote_ok=True,
            availability=windows,
            timezone="UTC",
            capacity=1,
            active_matches=0,
        )
    )
    request = Request(
        request_id=UUID(int=2),
        beneficiary_locale="en",
        languages=("en",),
        skills=frozenset({"paperwork"}),
        lat=52.5,
        lon=19.7,
        remote_ok=False,
        windows=windows,
        timezone="UTC",
        urgency="normal",
        needed_by=datetime.date(2026, 1, 9),
        submitted_at=now,
    )
    score_batch([request], index, now)
