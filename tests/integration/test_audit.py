"""The audit trail: each audited act leaves one entry of ids and codes, in the same transaction;
an organisation reads its own trail, the operator everyone's; old entries are forgotten."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry.usecases import audit
from tests.integration import test_lifecycle
from tests.integration.conftest import Registry
from tests.integration.test_lifecycle import Journey, auth, link_path
from tests.integration.test_web_pages import csrf_of, sign_up
from tests.samples import ADMIN_KEY, answer_offer, volunteer_body

# An organisation with volunteers and a request, the matcher's side played by the test.
journey = test_lifecycle.journey


async def trail(registry: Registry, key: str, **params: Any) -> list[dict[str, Any]]:
    response = await registry.client.get("/v1/audit", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def actions(entries: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in entries]


async def test_each_organisation_reads_its_own_trail_and_the_operator_all(
    registry: Registry,
) -> None:
    a = await registry.new_organisation("Płock Family Foundation")
    b = await registry.new_organisation("Seinäjoki Labour Office")

    everyone = await trail(registry, ADMIN_KEY)
    assert [(e["action"], e["object_id"]) for e in everyone] == [
        ("organisation.created", b["id"]),
        ("organisation.created", a["id"]),
    ]
    assert {e["actor_kind"] for e in everyone} == {"operator"}
    only_a = await trail(registry, a["api_key"])
    assert [e["object_id"] for e in only_a] == [a["id"]]
    assert only_a[0]["organisation_id"] == a["id"]

    # Newest first, a page at a time.
    [newest] = await trail(registry, ADMIN_KEY, limit=1)
    [older] = await trail(registry, ADMIN_KEY, limit=1, before=newest["id"])
    assert (newest["object_id"], older["object_id"]) == (b["id"], a["id"])


async def test_the_trail_refuses_bad_paging_and_unknown_keys(registry: Registry) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"before": 0}, {"before": "x"}):
        refused = await registry.client.get("/v1/audit", params=params, headers=auth(ADMIN_KEY))
        assert refused.status_code == 422, params
        assert refused.json()["detail"][0]["field"] in ("limit", "before")
    assert (await registry.client.get("/v1/audit")).status_code == 401
    wrong = await registry.client.get("/v1/audit", headers=auth("org_not-a-key"))
    assert wrong.status_code == 401
    non_ascii = await registry.client.get(
        "/v1/audit", headers={"Authorization": "Bearer ключ".encode()}
    )
    assert non_ascii.status_code == 401


async def test_a_download_and_an_erasure_are_on_the_operators_trail_without_personal_data(
    registry: Registry,
) -> None:
    org = await registry.new_organisation()
    assert (await sign_up(registry)).status_code == 303
    downloaded = await registry.client.get("/volunteer/profile/data.json")
    volunteer_id = json.loads(downloaded.text)["profile"]["id"]
    page = await registry.client.get("/volunteer/delete")
    assert (
        await registry.client.post("/volunteer/delete", data={"csrf_token": csrf_of(page)})
    ).status_code == 200

    entries = await trail(registry, ADMIN_KEY)
    by_volunteer = [e for e in entries if e["actor_kind"] == "volunteer"]
    assert [(e["action"], e["actor_id"], e["object_id"]) for e in by_volunteer] == [
        ("volunteer.erased", volunteer_id, volunteer_id),
        ("volunteer.data_downloaded", volunteer_id, volunteer_id),
    ]
    # A volunteer's own acts concern no organisation.
    assert actions(await trail(registry, org["api_key"])) == ["organisation.created"]
    # Ids and codes only.
    body = volunteer_body()
    written = json.dumps(entries)
    for personal in ("Olena", "Kovalenko", "olena", body["phone"], "52.5463", "Płock"):
        assert personal not in written


async def test_an_api_erasure_is_audited_and_undone_with_a_refused_one(
    registry: Registry,
) -> None:
    created = (await registry.client.post("/v1/volunteers", json=volunteer_body())).json()
    refused = await registry.client.delete(
        f"/v1/volunteers/{created['id']}", headers=auth("wrong-token")
    )
    assert refused.status_code == 401
    assert actions(await trail(registry, ADMIN_KEY)) == []
    erased = await registry.client.delete(
        f"/v1/volunteers/{created['id']}", headers=auth(created["manage_token"])
    )
    assert erased.status_code == 204
    assert actions(await trail(registry, ADMIN_KEY)) == ["volunteer.erased"]


async def test_reading_an_accepted_volunteers_contact_is_audited(journey: Journey) -> None:
    registry = journey.registry
    before = await journey.read()  # no offer yet: nothing to see, nothing audited
    assert before["match"] is None
    proposed = await journey.propose(journey.olena)
    context = await journey.context(proposed.match_id)
    await journey.read()  # offered, not accepted: no contact shown
    assert actions(await trail(registry, journey.org["api_key"])) == ["organisation.created"]

    await answer_offer(journey.client, link_path(context["match"]["accept_url"]))
    body = await journey.read()
    assert body["match"]["volunteer_contact"]["email"] == "olena.kovalenko@example.org"
    listed = await journey.client.get("/v1/requests", headers=journey.headers)
    assert listed.status_code == 200

    entries = await trail(registry, journey.org["api_key"])
    viewed = [e for e in entries if e["action"] == "volunteer.contact_viewed"]
    assert len(viewed) == 2  # the request read once, and the list
    assert {(e["actor_kind"], e["actor_id"], e["object_id"]) for e in viewed} == {
        ("organisation", journey.org["id"], journey.olena["id"])
    }
    other = await registry.new_organisation("Seinäjoki Labour Office")
    assert actions(await trail(registry, other["api_key"])) == ["organisation.created"]


async def test_the_desk_audits_the_request_page_that_shows_the_contact_not_the_list(
    journey: Journey,
) -> None:
    registry = journey.registry
    proposed = await journey.propose(journey.olena)
    context = await journey.context(proposed.match_id)
    await answer_offer(journey.client, link_path(context["match"]["accept_url"]))
    await journey.wait_for_status("accepted")
    key = journey.org["api_key"]
    before = len(await trail(registry, key))

    desk = httpx.AsyncClient(transport=registry.client._transport, base_url="http://registry.test")
    async with desk:
        page = await desk.get("/desk/sign-in")
        await desk.post("/desk/sign-in", data={"csrf_token": csrf_of(page), "api_key": key})
        listed = await desk.get("/desk/requests")
        assert listed.status_code == 200 and "olena.kovalenko@example.org" not in listed.text
        assert len(await trail(registry, key)) == before
        shown = await desk.get(f"/desk/requests/{journey.request['id']}")
        assert shown.status_code == 200 and "olena.kovalenko@example.org" in shown.text
    [newest, *_] = await trail(registry, key)
    assert len(await trail(registry, key)) == before + 1
    assert (newest["action"], newest["object_id"]) == (
        "volunteer.contact_viewed",
        journey.olena["id"],
    )


async def test_entries_older_than_the_retention_are_forgotten(registry: Registry) -> None:
    first = await registry.new_organisation("Płock Family Foundation")
    await registry.new_organisation("Seinäjoki Labour Office")
    engine = create_async_engine(registry.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE registry.audit SET at = :at WHERE object_id = :id"),
                {"at": datetime.now(UTC) - timedelta(days=31), "id": first["id"]},
            )
    finally:
        await engine.dispose()
    forgotten = await audit.forget_old(registry.app.state.uow_factory(), timedelta(days=30))
    assert forgotten == 1
    [kept] = await trail(registry, ADMIN_KEY)
    assert kept["object_id"] != first["id"]
