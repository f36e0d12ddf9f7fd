"""The registry's HTTP API against a real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests import jetstream
from tests.integration.conftest import Registry
from tests.samples import ADMIN_KEY, request_body, volunteer_body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def row_counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        counts = {
            table: int(await conn.scalar(sa.text(f"SELECT count(*) FROM registry.{table}")) or 0)
            for table in ("organisations", "volunteers", "requests", "outbox")
        }
    await engine.dispose()
    return counts


async def settle(registry: Registry) -> None:
    """Wait until the relay has published everything committed so far."""
    for _ in range(200):
        if await registry.app.state.relay.pending_count() == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox did not drain")


async def test_skills_taxonomy_has_labels_in_every_locale(registry: Registry) -> None:
    response = await registry.client.get("/v1/skills")
    assert response.status_code == 200
    skills = {s["code"]: s["labels"] for s in response.json()}
    assert {"legal_aid", "translation", "housing", "digital_help"} <= set(skills)
    for labels in skills.values():
        assert set(labels) == {"en", "pl", "uk", "ru", "fi", "pt", "sl"}
        assert all(label.strip() for label in labels.values())


async def test_organisation_needs_the_operator_key(registry: Registry) -> None:
    body = {"name": "Seinäjoki Labour Office", "email": "desk@example.org"}
    assert (await registry.client.post("/v1/organisations", json=body)).status_code == 401
    wrong = await registry.client.post("/v1/organisations", json=body, headers=auth("nope" * 8))
    assert wrong.status_code == 401
    created = await registry.client.post("/v1/organisations", json=body, headers=auth(ADMIN_KEY))
    assert created.status_code == 201
    key = created.json()["api_key"]
    assert len(key) >= 40  # 256 random bits, url-safe
    stored = await row_counts(registry.settings.database_url)
    assert stored["organisations"] == 1
    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        hashes = (
            (await conn.execute(sa.text("SELECT api_key_hash FROM registry.organisations")))
            .scalars()
            .all()
        )
    await engine.dispose()
    assert key not in hashes  # only the hash is kept


async def test_volunteer_registers_reads_changes_and_pauses(registry: Registry) -> None:
    created = await registry.client.post("/v1/volunteers", json=volunteer_body())
    assert created.status_code == 201, created.text
    volunteer = created.json()
    token, vid = volunteer["manage_token"], volunteer["id"]

    mine = await registry.client.get(f"/v1/volunteers/{vid}", headers=auth(token))
    assert mine.status_code == 200
    assert mine.json()["email"] == "olena.kovalenko@example.org"
    assert "manage_token" not in mine.json()

    changed = await registry.client.patch(
        f"/v1/volunteers/{vid}", json={"capacity": 3, "paused": True}, headers=auth(token)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] == 3 and changed.json()["paused"] is True

    bad = await registry.client.patch(
        f"/v1/volunteers/{vid}", json={"capacity": 50}, headers=auth(token)
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "capacity"

    assert (await registry.client.get(f"/v1/volunteers/{vid}")).status_code == 401
    other = (await registry.client.post("/v1/volunteers", json=volunteer_body())).json()
    assert (
        await registry.client.get(f"/v1/volunteers/{vid}", headers=auth(other["manage_token"]))
    ).status_code == 404

    await settle(registry)
    subjects = [
        s for s, _ in await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY")
    ]
    assert subjects == [
        "registry.volunteer.registered.v1",
        "registry.volunteer.updated.v1",
        "registry.volunteer.registered.v1",
    ]


async def test_events_carry_no_contact_details_and_a_rounded_location(registry: Registry) -> None:
    await registry.client.post("/v1/volunteers", json=volunteer_body())
    await settle(registry)
    [(_, event)] = await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY")
    text = str(event)
    assert "Olena" not in text and "example.org" not in text and "601234567" not in text
    assert event["location"] == {"lat": 52.546, "lon": 19.706}


async def test_erasure_leaves_no_personal_data_in_any_table(registry: Registry) -> None:
    body = volunteer_body(
        name="Zofia Erasable", email="zofia.erasable@example.org", phone="+48601999888"
    )
    volunteer = (await registry.client.post("/v1/volunteers", json=body)).json()
    erased = await registry.client.delete(
        f"/v1/volunteers/{volunteer['id']}", headers=auth(volunteer["manage_token"])
    )
    assert erased.status_code == 204
    again = await registry.client.get(
        f"/v1/volunteers/{volunteer['id']}", headers=auth(volunteer["manage_token"])
    )
    assert again.status_code == 401

    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'registry'")
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            for needle in (
                "Zofia",
                "Erasable",
                "zofia.erasable@example.org",
                "601999888",
                "52.5463",
            ):
                hits = await conn.scalar(
                    sa.text(f"SELECT count(*) FROM registry.{table} t WHERE t::text LIKE :n"),
                    {"n": f"%{needle}%"},
                )
                assert hits == 0, f"{needle!r} is still in registry.{table}"
    await engine.dispose()

    await settle(registry)
    subjects = [
        s for s, _ in await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY")
    ]
    assert subjects[-1] == "registry.volunteer.erased.v1"


async def test_request_submit_read_list_and_cancel(registry: Registry) -> None:
    org = await registry.new_organisation()
    headers = auth(org["api_key"])
    ids = []
    for urgency in ("low", "high", "critical"):
        response = await registry.client.post(
            "/v1/requests", json=request_body(urgency=urgency), headers=headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "open"
        ids.append(response.json()["id"])

    one = await registry.client.get(f"/v1/requests/{ids[0]}", headers=headers)
    assert one.status_code == 200 and one.json()["urgency"] == "low"
    assert one.json()["match"] is None and one.json()["offers"] == []

    cancelled = await registry.client.post(f"/v1/requests/{ids[1]}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = await registry.client.post(f"/v1/requests/{ids[1]}/cancel", headers=headers)
    assert twice.status_code == 409 and "cancelled" in twice.json()["detail"]

    page = (await registry.client.get("/v1/requests?limit=2", headers=headers)).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = (await registry.client.get("/v1/requests?limit=2&offset=2", headers=headers)).json()
    assert len(rest["items"]) == 1
    assert {i["id"] for i in page["items"] + rest["items"]} == set(ids)
    open_only = (await registry.client.get("/v1/requests?status=open", headers=headers)).json()
    assert {i["id"] for i in open_only["items"]} == {ids[0], ids[2]}
    bad_filter = await registry.client.get("/v1/requests?status=nonsense", headers=headers)
    assert bad_filter.status_code == 422 and bad_filter.json()["detail"][0]["field"] == "status"

    await settle(registry)
    subjects = [
        s for s, _ in await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY")
    ]
    assert subjects.count("registry.request.submitted.v1") == 3
    assert subjects.count("registry.request.cancelled.v1") == 1


async def test_organisations_see_only_their_own_requests(registry: Registry) -> None:
    a = await registry.new_organisation("A")
    b = await registry.new_organisation("B")
    created = await registry.client.post(
        "/v1/requests", json=request_body(), headers=auth(a["api_key"])
    )
    rid = created.json()["id"]

    assert (
        await registry.client.get(f"/v1/requests/{rid}", headers=auth(b["api_key"]))
    ).status_code == 404
    cancel = await registry.client.post(f"/v1/requests/{rid}/cancel", headers=auth(b["api_key"]))
    assert cancel.status_code == 404
    assert (await registry.client.get("/v1/requests", headers=auth(b["api_key"]))).json()[
        "total"
    ] == 0
    still = await registry.client.get(f"/v1/requests/{rid}", headers=auth(a["api_key"]))
    assert still.json()["status"] == "open"

    for headers in ({}, auth("org_wrong-key-0123456789abcdef"), {"Authorization": "Basic abc"}):
        assert (
            await registry.client.get(f"/v1/requests/{rid}", headers=headers)
        ).status_code == 401
        assert (
            await registry.client.post("/v1/requests", json=request_body(), headers=headers)
        ).status_code == 401


async def test_idempotency_key_retried_five_times_gives_one_request_and_one_event(
    registry: Registry,
) -> None:
    org = await registry.new_organisation()
    headers = auth(org["api_key"]) | {"Idempotency-Key": "form-42"}
    body = request_body()
    answers = [
        await registry.client.post("/v1/requests", json=body, headers=headers) for _ in range(5)
    ]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None] + ["true"] * 4

    different = await registry.client.post(
        "/v1/requests", json=request_body(urgency="critical"), headers=headers
    )
    assert different.status_code == 409

    # The same key from another organisation is another request.
    other = await registry.new_organisation("Other")
    theirs = await registry.client.post(
        "/v1/requests", json=body, headers=auth(other["api_key"]) | {"Idempotency-Key": "form-42"}
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != answers[0].json()["id"]

    await settle(registry)
    messages = await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY")
    submitted = [e for s, e in messages if s == "registry.request.submitted.v1"]
    assert len(submitted) == 2
    assert sum(e["request_id"] == answers[0].json()["id"] for e in submitted) == 1


async def test_concurrent_retries_with_one_key_give_one_request(registry: Registry) -> None:
    org = await registry.new_organisation()
    headers = auth(org["api_key"]) | {"Idempotency-Key": "double-click"}
    answers = await asyncio.gather(
        *(
            registry.client.post("/v1/requests", json=request_body(), headers=headers)
            for _ in range(5)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await row_counts(registry.settings.database_url))["requests"] == 1


past = (date.today() - timedelta(days=2)).isoformat()

BAD_VOLUNTEERS: list[tuple[str, dict[str, Any], str]] = [
    ("bad email", {"email": "not-an-email"}, "email"),
    ("phone not E.164", {"phone": "0601234567"}, "phone"),
    ("phone impossible", {"phone": "+4812"}, "phone"),
    ("unknown language", {"languages": [{"code": "xx", "level": "native"}]}, "languages.0.code"),
    ("unknown level", {"languages": [{"code": "uk", "level": "perfect"}]}, "languages.0.level"),
    ("no languages", {"languages": []}, "languages"),
    ("unknown skill", {"skills": ["flying"]}, "skills"),
    ("no skills", {"skills": []}, "skills"),
    ("latitude out of range", {"location": {"lat": 91, "lon": 19.7}}, "location.lat"),
    ("longitude out of range", {"location": {"lat": 52, "lon": 181}}, "location.lon"),
    ("no location, not remote", {"location": None}, "location"),
    ("unknown time zone", {"timezone": "Europe/Atlantis"}, "timezone"),
    (
        "window ends before start",
        {"availability": [{"day": "mon", "start": "18:00", "end": "17:00"}]},
        "availability.0.end",
    ),
    (
        "window not HH:MM",
        {"availability": [{"day": "mon", "start": "5pm", "end": "19:00"}]},
        "availability.0.start",
    ),
    (
        "unknown day",
        {"availability": [{"day": "funday", "start": "10:00", "end": "12:00"}]},
        "availability.0.day",
    ),
    ("capacity zero", {"capacity": 0}, "capacity"),
    ("capacity too high", {"capacity": 21}, "capacity"),
    ("no consent", {"consent": False}, "consent"),
    ("unknown locale", {"locale": "zz"}, "locale"),
]

BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown language", {"languages": ["xx"]}, "languages"),
    ("no languages", {"languages": []}, "languages"),
    ("unknown skill", {"skills": ["juggling"]}, "skills"),
    ("no skills", {"skills": []}, "skills"),
    ("latitude out of range", {"location": {"lat": -91, "lon": 19.7}}, "location.lat"),
    ("no location, not remote", {"location": None, "remote_ok": False}, "location"),
    ("unknown time zone", {"timezone": "Mars/Olympus"}, "timezone"),
    (
        "window ends before start",
        {"windows": [{"day": "tue", "start": "19:00", "end": "19:00"}]},
        "windows.0.end",
    ),
    ("no windows", {"windows": []}, "windows"),
    ("description too long", {"description": "x" * 2001}, "description"),
    ("needed_by in the past", {"needed_by": past}, "needed_by"),
    ("unknown urgency", {"urgency": "yesterday"}, "urgency"),
    (
        "beneficiary email",
        {"beneficiary": {"display_name": "M", "locale": "uk", "email": "m@"}},
        "beneficiary.email",
    ),
    (
        "beneficiary phone",
        {"beneficiary": {"display_name": "M", "locale": "uk", "phone": "12345"}},
        "beneficiary.phone",
    ),
    (
        "beneficiary locale",
        {"beneficiary": {"display_name": "M", "locale": "klingon"}},
        "beneficiary.locale",
    ),
    ("unknown field", {"shoe_size": 42}, "shoe_size"),
]


@pytest.mark.parametrize(
    ("case", "change", "field"), BAD_VOLUNTEERS, ids=[c[0] for c in BAD_VOLUNTEERS]
)
async def test_bad_volunteer_is_refused_naming_the_field(
    registry: Registry, case: str, change: dict[str, Any], field: str
) -> None:
    before = await row_counts(registry.settings.database_url)
    response = await registry.client.post("/v1/volunteers", json=volunteer_body(**change))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["field"] for e in errors] == [field], errors
    assert errors[0]["reason"]
    assert await row_counts(registry.settings.database_url) == before
    await asyncio.sleep(0.1)
    assert await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY") == []


@pytest.mark.parametrize(
    ("case", "change", "field"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_request_is_refused_naming_the_field(
    registry: Registry, case: str, change: dict[str, Any], field: str
) -> None:
    org = await registry.new_organisation()
    before = await row_counts(registry.settings.database_url)
    response = await registry.client.post(
        "/v1/requests", json=request_body(**change), headers=auth(org["api_key"])
    )
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["field"] for e in errors] == [field], errors
    assert await row_counts(registry.settings.database_url) == before
    await asyncio.sleep(0.1)
    assert await jetstream.stream_messages(registry.settings.nats_url, "REGISTRY") == []


async def test_health_readiness_metrics_and_docs(registry: Registry) -> None:
    assert (await registry.client.get("/healthz")).json() == {"status": "ok"}
    for _ in range(50):
        ready = await registry.client.get("/readyz")
        if ready.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert ready.json() == {"ready": True, "database": True, "nats": True, "consumers": True}
    metrics = await registry.client.get("/metrics/")
    assert metrics.status_code == 200 and "python_info" in metrics.text
    spec = (await registry.client.get("/openapi.json")).json()
    assert "/v1/requests" in spec["paths"] and "/v1/volunteers/{volunteer_id}" in spec["paths"]
    examples = spec["components"]["schemas"]["RequestIn"].get("examples")
    assert examples and examples[0]["skills"] == ["paperwork"]
