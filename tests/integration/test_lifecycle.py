"""After submission: offers recorded from the matcher, answered, expired, cancelled, completed."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry.usecases import maintenance
from shared import events
from tests import jetstream
from tests.integration.conftest import Registry
from tests.samples import SECRET, answer_offer, request_body, volunteer_body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Journey:
    """One organisation, volunteers and a request, with the matcher's side played by the test."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.client = registry.client

    async def start(self, urgency: str = "normal") -> None:
        self.org = await self.registry.new_organisation()
        self.headers = auth(self.org["api_key"])
        self.olena = (await self.client.post("/v1/volunteers", json=volunteer_body())).json()
        self.piotr = (
            await self.client.post(
                "/v1/volunteers",
                json=volunteer_body(name="Piotr Nowak", email="piotr@example.org", locale="pl"),
            )
        ).json()
        created = await self.client.post(
            "/v1/requests", json=request_body(urgency=urgency), headers=self.headers
        )
        self.request = created.json()

    async def propose(
        self, volunteer: dict[str, Any], urgency: str = "normal"
    ) -> events.MatchProposed:
        event = events.MatchProposed(
            match_id=uuid.uuid4(),
            request_id=self.request["id"],
            volunteer_id=volunteer["id"],
            organisation_id=self.org["id"],
            urgency=urgency,  # type: ignore[arg-type]
            score=0.87,
            breakdown={
                "language": 1.0,
                "skills": 0.9,
                "distance": 0.8,
                "availability": 0.7,
                "load": 1.0,
            },
            reasons=[events.Reason(code="shared_language", language="uk", level="native")],  # type: ignore[call-arg]
        )
        await jetstream.publish(self.registry.settings.nats_url, event)
        await self.wait_for_status("proposed")
        return event

    async def read(self) -> dict[str, Any]:
        response = await self.client.get(f"/v1/requests/{self.request['id']}", headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def wait_for_status(self, status: str) -> dict[str, Any]:
        for _ in range(100):
            body = await self.read()
            if body["status"] == status:
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"request never became {status}: {body['status']}")

    async def context(self, match_id: uuid.UUID) -> dict[str, Any]:
        response = await self.client.get(f"/internal/v1/matches/{match_id}", headers=auth(SECRET))
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def subjects(self) -> list[str]:
        await asyncio.sleep(0.3)
        messages = await jetstream.stream_messages(self.registry.settings.nats_url, "REGISTRY")
        return [s for s, _ in messages if s.startswith("registry.match") or "cancelled" in s]


@pytest.fixture
async def journey(registry: Registry) -> Journey:
    await asyncio.sleep(0)
    for _ in range(100):  # the registry's consumer must be bound before the matcher "speaks"
        if (await registry.client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    journey = Journey(registry)
    await journey.start()
    return journey


def link_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


async def test_the_volunteer_accepts_through_the_signed_link(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    context = await journey.context(proposed.match_id)
    assert context["volunteer"]["first_name"] == "Olena"
    assert context["volunteer"]["locale"] == "uk"
    assert context["organisation"]["name"] == "Płock Family Foundation"
    accept = link_path(context["match"]["accept_url"])

    # GET shows a confirmation page in the volunteer's language and decides nothing.
    page = await journey.client.get(accept)
    assert page.status_code == 200
    assert 'lang="uk"' in page.text and "Так, я допоможу" in page.text
    assert (await journey.read())["status"] == "proposed"

    token = accept.split("token=")[1]
    done = await answer_offer(journey.client, accept)
    assert done.status_code == 200 and "Дякуємо" in done.text

    body = await journey.read()
    assert body["status"] == "accepted"
    assert body["match"]["volunteer_first_name"] == "Olena"
    assert body["match"]["volunteer_contact"] == {
        "email": "olena.kovalenko@example.org",
        "phone": "+48601234567",
    }
    assert [o["outcome"] for o in body["offers"]] == ["accepted"]

    again = await answer_offer(journey.client, accept)
    assert again.status_code == 409
    api_again = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", json={"token": token}
    )
    assert (
        api_again.status_code == 409
        and api_again.json()["detail"] == "the offer was already accepted"
    )
    assert await journey.subjects() == ["registry.match.accepted.v1"]


async def test_a_link_for_one_offer_or_action_does_not_work_for_another(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    context = await journey.context(proposed.match_id)
    decline_token = context["match"]["decline_url"].split("token=")[1]
    wrong_action = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", json={"token": decline_token}
    )
    assert wrong_action.status_code == 401
    forged = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", json={"token": "9999999999.deadbeef"}
    )
    assert forged.status_code == 401
    # Another volunteer's manage token cannot answer this offer.
    theirs = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", headers=auth(journey.piotr["manage_token"])
    )
    assert theirs.status_code == 404
    assert (await journey.read())["status"] == "proposed"
    assert await journey.subjects() == []


async def test_a_decline_sends_the_request_back_to_matching(journey: Journey) -> None:
    first = await journey.propose(journey.olena)
    declined = await journey.client.post(
        f"/v1/matches/{first.match_id}/decline", headers=auth(journey.olena["manage_token"])
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert (await journey.read())["status"] == "open"
    messages = await jetstream.wait_for_messages(journey.registry.settings.nats_url, "REGISTRY", 1)
    [(_, event)] = [(s, e) for s, e in messages if s == "registry.match.declined.v1"]
    assert event["volunteer_id"] == journey.olena["id"] and event["reason"] == "declined"

    second = await journey.propose(journey.piotr)
    body = await journey.read()
    assert body["match"]["id"] == str(second.match_id)
    assert body["match"]["volunteer_contact"] is None  # not before acceptance
    assert [(o["volunteer_first_name"], o["outcome"]) for o in body["offers"]] == [
        ("Olena", "declined"),
        ("Piotr", "proposed"),
    ]
    assert all("email" not in o and "phone" not in o for o in body["offers"])


async def test_an_unanswered_offer_expires_and_cannot_be_accepted_after(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    context = await journey.context(proposed.match_id)
    token = context["match"]["accept_url"].split("token=")[1]
    expired = await maintenance.expire_offers(
        journey.registry.app.state.uow_factory(), now=datetime.now(UTC) + timedelta(hours=49)
    )
    assert expired == 1
    assert (await journey.read())["status"] == "open"
    late = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", json={"token": token}
    )
    assert late.status_code == 409 and late.json()["detail"] == "the offer expired"
    messages = await jetstream.wait_for_messages(journey.registry.settings.nats_url, "REGISTRY", 1)
    assert [e["reason"] for s, e in messages if s == "registry.match.declined.v1"] == ["expired"]


async def test_critical_offers_expire_sooner(registry: Registry) -> None:
    journey = Journey(registry)
    await journey.start(urgency="critical")
    proposed = await journey.propose(journey.olena, urgency="critical")
    body = await journey.read()
    respond_by = datetime.fromisoformat(body["match"]["respond_by"])
    assert respond_by - proposed.occurred_at == timedelta(hours=4)


async def test_cancelling_with_an_open_offer_withdraws_it(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    cancelled = await journey.client.post(
        f"/v1/requests/{journey.request['id']}/cancel", headers=journey.headers
    )
    assert cancelled.status_code == 200
    assert [o["outcome"] for o in cancelled.json()["offers"]] == ["withdrawn"]
    accept = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", headers=auth(journey.olena["manage_token"])
    )
    assert accept.status_code == 409 and accept.json()["detail"] == "the request was cancelled"
    messages = await jetstream.wait_for_messages(journey.registry.settings.nats_url, "REGISTRY", 1)
    [event] = [e for s, e in messages if s == "registry.request.cancelled.v1"]
    assert event["match_id"] == str(proposed.match_id)
    assert event["volunteer_id"] == journey.olena["id"]


async def test_completion_with_feedback(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    early = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/complete", json={"rating": 5}, headers=journey.headers
    )
    assert early.status_code == 409
    await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", headers=auth(journey.olena["manage_token"])
    )
    bad = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/complete", json={"rating": 6}, headers=journey.headers
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "rating"
    other = await journey.registry.new_organisation("Other")
    theirs = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/complete",
        json={"rating": 5},
        headers=auth(other["api_key"]),
    )
    assert theirs.status_code == 404
    done = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/complete",
        json={"rating": 5, "comment": "Form filed on time"},
        headers=journey.headers,
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert (await journey.read())["status"] == "completed"
    messages = await jetstream.wait_for_messages(journey.registry.settings.nats_url, "REGISTRY", 1)
    [event] = [e for s, e in messages if s == "registry.match.completed.v1"]
    assert event["rating"] == 5


async def test_a_redelivered_proposal_is_recorded_once(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    await jetstream.publish(journey.registry.settings.nats_url, proposed, msg_id="redelivered")
    await asyncio.sleep(0.5)
    assert len((await journey.read())["offers"]) == 1


async def test_unmatched_reasons_are_shown_on_the_request(journey: Journey) -> None:
    event = events.RequestUnmatched(
        request_id=journey.request["id"],
        organisation_id=journey.org["id"],
        reasons=[events.Reason(code="no_shared_language", languages=["ka"])],  # type: ignore[call-arg]
    )
    await jetstream.publish(journey.registry.settings.nats_url, event)
    body = await journey.wait_for_status("unmatched")
    assert body["unmatched_reasons"] == [{"code": "no_shared_language", "languages": ["ka"]}]


async def test_the_internal_contact_look_up_needs_the_service_token(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    for headers in ({}, auth("wrong-token-0123456789"), auth(journey.org["api_key"])):
        response = await journey.client.get(
            f"/internal/v1/matches/{proposed.match_id}", headers=headers
        )
        assert response.status_code == 401


async def test_a_request_past_its_date_expires_and_its_offer_is_withdrawn(journey: Journey) -> None:
    proposed = await journey.propose(journey.olena)
    engine = create_async_engine(journey.registry.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE registry.requests SET needed_by = current_date - 2 WHERE id = :id"),
            {"id": journey.request["id"]},
        )
    await engine.dispose()
    assert await maintenance.expire_requests(journey.registry.app.state.uow_factory()) == 1
    body = await journey.read()
    assert body["status"] == "expired"
    assert [o["outcome"] for o in body["offers"]] == ["withdrawn"]
    late = await journey.client.post(
        f"/v1/matches/{proposed.match_id}/accept", headers=auth(journey.olena["manage_token"])
    )
    assert (
        late.status_code == 409 and late.json()["detail"] == "the request passed its needed_by date"
    )
    messages = await jetstream.wait_for_messages(journey.registry.settings.nats_url, "REGISTRY", 1)
    [event] = [e for s, e in messages if s == "registry.request.expired.v1"]
    assert event["match_id"] == str(proposed.match_id)
    assert await maintenance.expire_requests(journey.registry.app.state.uow_factory()) == 0
