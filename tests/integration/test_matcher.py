"""The matcher with a real NATS and PostgreSQL: registry events in, match events out."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import create_async_engine

from services.matcher.adapters.unit_of_work import UnitOfWork
from services.matcher.bootstrap import create_app
from services.matcher.domain.index import VolunteerIndex
from services.matcher.settings import MatcherSettings
from services.matcher.usecases.index_sync import IndexSync
from services.matcher.usecases.read_model import apply_registry_event
from shared import events
from shared.db import make_engine
from tests import jetstream
from tests.conftest import Database
from tests.integration.conftest import Lifespans

PLOCK = events.Location(lat=52.546, lon=19.706)
TUESDAY_EVENING = [events.TimeWindow(day="tue", start="16:00", end="20:00")]


def volunteer(**changes: Any) -> events.VolunteerRegistered:
    fields: dict[str, Any] = {
        "volunteer_id": uuid.uuid4(),
        "locale": "uk",
        "languages": [events.LanguageLevel(code="uk", level="native")],
        "skills": ["paperwork"],
        "location": PLOCK,
        "max_travel_km": 10.0,
        "remote_ok": False,
        "availability": TUESDAY_EVENING,
        "timezone": "Europe/Warsaw",
        "capacity": 1,
    }
    return events.VolunteerRegistered(**(fields | changes))


def request(**changes: Any) -> events.RequestSubmitted:
    fields: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "organisation_id": uuid.uuid4(),
        "beneficiary_locale": "uk",
        "languages": ["uk"],
        "skills": ["paperwork"],
        "location": events.Location(lat=52.55, lon=19.70),
        "remote_ok": False,
        "windows": TUESDAY_EVENING,
        "timezone": "Europe/Warsaw",
        "urgency": "normal",
        "needed_by": date.today() + timedelta(days=30),
    }
    return events.RequestSubmitted(**(fields | changes))


async def matcher_events(
    nats_url: str, count: int, timeout: float = 20
) -> list[tuple[str, dict[str, Any]]]:
    return await jetstream.wait_for_messages(nats_url, "MATCHER", count, timeout)


@pytest.fixture
async def matcher(clean_database: Database, clean_nats: str) -> AsyncIterator[FastAPI]:
    settings = MatcherSettings(
        _env_file=None,
        database_url=clean_database.url,
        nats_url=clean_nats,
        outbox_poll_seconds=0.05,
        matcher_batch_window_ms=20,
        matcher_idle_poll_seconds=0.5,
    )
    lifespans = Lifespans()
    yield await lifespans.start(create_app(settings))
    await lifespans.stop_all()


async def query(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = list((await conn.execute(sa.text(sql))).all())
    await engine.dispose()
    return rows


async def test_a_request_is_proposed_to_the_volunteer_who_fits_with_reasons(
    matcher: FastAPI, clean_nats: str
) -> None:
    near = volunteer()
    far = volunteer(location=events.Location(lat=52.62, lon=19.80), max_travel_km=15.0)
    submitted = request()
    await jetstream.publish(clean_nats, near, far, submitted)

    [(subject, proposed)] = await matcher_events(clean_nats, 1)
    assert subject == "matcher.match.proposed.v1"
    assert proposed["request_id"] == str(submitted.request_id)
    assert proposed["volunteer_id"] == str(near.volunteer_id)
    assert proposed["organisation_id"] == str(submitted.organisation_id)
    assert set(proposed["breakdown"]) == {"language", "skills", "distance", "availability", "load"}
    assert 0 < proposed["score"] <= 1
    codes = {r["code"]: r for r in proposed["reasons"]}
    assert codes["shared_language"]["language"] == "uk"
    assert codes["shared_language"]["level"] == "native"
    assert codes["distance"]["km"] < 1.0
    assert codes["available"]["day"] == "tue"


async def test_redelivered_and_duplicated_events_make_no_second_match(
    matcher: FastAPI, clean_database: Database, clean_nats: str
) -> None:
    submitted = request()
    await jetstream.publish(clean_nats, volunteer(capacity=3), submitted)
    await matcher_events(clean_nats, 1)
    # The same event again under other message ids gets past JetStream's duplicate window,
    # as a redelivery after a crash would.
    await jetstream.publish(clean_nats, submitted, msg_id="again-1")
    await jetstream.publish(clean_nats, submitted, msg_id="again-2")
    await asyncio.sleep(1.5)
    messages = await jetstream.stream_messages(clean_nats, "MATCHER")
    assert [s for s, _ in messages] == ["matcher.match.proposed.v1"]
    [(active,)] = await query(clean_database.url, "SELECT active_matches FROM matcher.volunteers")
    assert active == 1


async def test_nobody_speaks_the_language_then_someone_who_does_registers(
    matcher: FastAPI, clean_nats: str
) -> None:
    submitted = request(languages=["ka"], beneficiary_locale="ka")
    await jetstream.publish(clean_nats, volunteer(), submitted)
    [(subject, unmatched)] = await matcher_events(clean_nats, 1)
    assert subject == "matcher.request.unmatched.v1"
    assert unmatched["reasons"][0]["code"] == "no_shared_language"
    assert unmatched["reasons"][0]["languages"] == ["ka"]

    georgian = volunteer(languages=[events.LanguageLevel(code="ka", level="native")])
    await jetstream.publish(clean_nats, georgian)
    messages = await matcher_events(clean_nats, 2)
    assert [s for s, _ in messages] == ["matcher.request.unmatched.v1", "matcher.match.proposed.v1"]
    assert messages[1][1]["volunteer_id"] == str(georgian.volunteer_id)


async def test_a_declined_offer_goes_to_the_next_best_volunteer(
    matcher: FastAPI, clean_nats: str
) -> None:
    best = volunteer()
    second = volunteer(location=events.Location(lat=52.58, lon=19.75))
    submitted = request()
    await jetstream.publish(clean_nats, best, second, submitted)
    [(_, first)] = await matcher_events(clean_nats, 1)
    assert first["volunteer_id"] == str(best.volunteer_id)

    declined = events.MatchDeclined(
        match_id=uuid.UUID(first["match_id"]),
        request_id=submitted.request_id,
        volunteer_id=best.volunteer_id,
        organisation_id=submitted.organisation_id,
    )
    await jetstream.publish(clean_nats, declined)
    messages = await matcher_events(clean_nats, 2)
    assert messages[1][1]["volunteer_id"] == str(second.volunteer_id)
    assert messages[1][1]["request_id"] == str(submitted.request_id)


async def test_a_cancelled_request_frees_the_volunteer_for_the_next(
    matcher: FastAPI, clean_nats: str
) -> None:
    only = volunteer(capacity=1)
    first, waiting = request(), request()
    await jetstream.publish(clean_nats, only, first)
    await matcher_events(clean_nats, 1)
    await jetstream.publish(clean_nats, waiting)
    messages = await matcher_events(clean_nats, 2)
    assert messages[1][0] == "matcher.request.unmatched.v1"
    assert messages[1][1]["reasons"][0]["code"] == "no_capacity"

    await jetstream.publish(
        clean_nats,
        events.RequestCancelled(request_id=first.request_id, organisation_id=first.organisation_id),
    )
    messages = await matcher_events(clean_nats, 3)
    assert messages[2][0] == "matcher.match.proposed.v1"
    assert messages[2][1]["request_id"] == str(waiting.request_id)


def dead_letters(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "involvim_dead_letters_total",
        {"service": "matcher", "subject": "registry.request.submitted.v1", "reason": reason},
    )
    return value or 0.0


async def test_a_poison_message_is_parked_and_the_next_one_is_matched(
    matcher: FastAPI, clean_nats: str
) -> None:
    before = dead_letters("malformed")
    await jetstream.publish(clean_nats, volunteer())
    await jetstream.publish_raw(clean_nats, "registry.request.submitted.v1", b"{not json")
    await jetstream.publish_raw(
        clean_nats, "registry.request.submitted.v1", b'{"event_id": "not-a-uuid"}'
    )
    good = request()
    await jetstream.publish(clean_nats, good)

    [(_, proposed)] = await matcher_events(clean_nats, 1)
    assert proposed["request_id"] == str(good.request_id)
    parked = await jetstream.wait_for_messages(clean_nats, "DEADLETTER", 2)
    assert [s for s, _ in parked] == ["deadletter.matcher.registry.request.submitted.v1"] * 2
    assert dead_letters("malformed") == before + 2
    assert parked[0][1]["raw"] == "{not json"
    assert (
        "JSONDecodeError" in parked[0][1]["_headers"]["Involvim-Error"]
        or "json" in parked[0][1]["_headers"]["Involvim-Error"].lower()
    )


async def test_urgent_requests_win_a_scarce_volunteer(matcher: FastAPI, clean_nats: str) -> None:
    low = request(urgency="low")
    critical = request(urgency="critical")
    # Both wait before anyone can serve them; then one volunteer arrives for both.
    await jetstream.publish(clean_nats, low, critical)
    await matcher_events(clean_nats, 2)
    await jetstream.publish(clean_nats, volunteer(capacity=1))
    messages = await matcher_events(clean_nats, 4)
    proposed = [e for s, e in messages if s == "matcher.match.proposed.v1"]
    assert [p["request_id"] for p in proposed] == [str(critical.request_id)]


def _now() -> datetime:
    return datetime.now(UTC)


Unused = Callable[[], None] | Counter[str]


async def test_each_replica_s_index_follows_what_another_replica_wrote(
    clean_database: Database,
) -> None:
    # Replicas share the tables, not their indexes: each one reads the rows changed since its
    # last look, and re-reads nothing that did not change.
    engine = make_engine(clean_database.url)

    def new_uow() -> UnitOfWork:
        return UnitOfWork(engine)

    async def write(event: events.Event) -> None:  # the replica that consumed the event
        await apply_registry_event(new_uow(), event, _now)

    reader = IndexSync(VolunteerIndex(), new_uow)
    try:
        registered = [volunteer() for _ in range(3)]
        for event in registered:
            await write(event)
        assert await reader.sync() == 3
        assert len(reader.index) == 3
        assert await reader.sync() == 0

        first = registered[0]
        updated = events.VolunteerUpdated(
            **(first.model_dump(exclude={"event_id", "occurred_at"}) | {"skills": ["housing"]})
        )
        await write(updated)
        await write(events.VolunteerErased(volunteer_id=registered[1].volunteer_id))
        assert await reader.sync() == 2
        row = reader.index.row_of(first.volunteer_id)
        housing = reader.index.skills.get("housing")
        assert housing is not None
        assert int(reader.index.skill_bits[row]) == 1 << housing
        assert registered[1].volunteer_id not in reader.index
        assert len(reader.index) == 2
        assert await reader.sync() == 0
    finally:
        await engine.dispose()
