"""The whole journey with the three services as separate processes, as ``involvim run`` starts
them, against embedded PostgreSQL and NATS, a real SMTP server and an SMS provider stand-in.
Every check is on what a person sees: the emails, the SMS and the API's answers."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from involvim.local import LocalStack
from shared.vocabulary import DAYS
from tests.e2e.conftest import running_system
from tests.samples import answer_offer, request_body, volunteer_body
from tests.servers import MailServer, SmsProvider

# A weekday evening window that always overlaps "before needed_by" within the month.
EVENINGS = [{"day": d, "start": "16:00", "end": "21:00"} for d in DAYS[:5]]


@dataclass
class Journey:
    stack: LocalStack
    mail: MailServer
    sms: SmsProvider
    api: httpx.AsyncClient
    org_key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.org_key}"}

    async def volunteer(self, name: str, email: str, **changes: Any) -> dict[str, Any]:
        body = volunteer_body(name=name, email=email, availability=EVENINGS, **changes)
        response = await self.api.post("/v1/volunteers", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def submit(self, **changes: Any) -> dict[str, Any]:
        response = await self.api.post(
            "/v1/requests", json=request_body(windows=EVENINGS, **changes), headers=self.headers
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def status(self, request_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v1/requests/{request_id}", headers=self.headers)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    async def wait_for(self, request_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = await self.status(request_id)
            if body["status"] == status:
                return body
            assert time.monotonic() < deadline, f"still {body['status']}, wanted {status}: {body}"
            await asyncio.sleep(0.2)

    async def mail_to(self, address: str, count: int = 1, timeout: float = 30) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mail.messages if m["To"] == address]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{address} got {len(found)} of {count} messages"
            await asyncio.sleep(0.2)

    async def sms_to(self, number: str, count: int = 1, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = [c.form["Body"] for c in self.sms.sent() if c.form.get("To") == number]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{number} got {len(found)} of {count} SMS"
            await asyncio.sleep(0.2)


def body_of(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def link(text: str, action: str) -> str:
    found = re.search(rf"https?://\S+/offers/[0-9a-f-]+/{action}\?token=[0-9a-f.]+", text)
    assert found, f"no {action} link in: {text}"
    return found.group(0)


@pytest.fixture(scope="module")
async def journey(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Journey]:
    async with running_system(tmp_path_factory.mktemp("stack") / ".data") as system:
        stack, mail, sms, api = system
        org = await api.post(
            "/v1/organisations",
            json={"name": "Płock Family Foundation", "email": "desk@example.org"},
            headers={"Authorization": f"Bearer {stack.env['ADMIN_API_KEY']}"},
        )
        yield Journey(stack, mail, sms, api, org.json()["api_key"])


async def test_a_best_volunteer_accepts_through_the_link_in_the_email(journey: Journey) -> None:
    await journey.volunteer("Olena Kovalenko", "olena@example.org", phone="+48601000001")
    await journey.volunteer(
        "Far Away",
        "far@example.org",
        phone="+48601000002",
        location={"lat": 52.60, "lon": 19.80},
        max_travel_km=20,
    )
    request = await journey.submit()
    await journey.wait_for(request["id"], "proposed")

    [offer] = await journey.mail_to("olena@example.org")
    assert offer["Content-Language"] == "uk"
    text = body_of(offer)
    [sms] = await journey.sms_to("+48601000001")
    short = re.search(r"https?://\S+/o/\S+", sms)
    assert short, sms
    assert (await journey.api.get(short.group(0))).status_code == 200
    assert [m for m in journey.mail.messages if m["To"] == "far@example.org"] == []

    accept = link(text, "accept")
    page = await journey.api.get(accept)
    assert page.status_code == 200 and 'lang="uk"' in page.text
    decided = await answer_offer(journey.api, accept)
    assert decided.status_code == 200

    body = await journey.wait_for(request["id"], "accepted")
    assert body["match"]["volunteer_first_name"] == "Olena"
    assert body["match"]["volunteer_contact"]["email"] == "olena@example.org"
    [told] = await journey.mail_to("desk@example.org")
    assert "Olena" in body_of(told)


async def test_b_a_decline_goes_to_the_second_best(journey: Journey) -> None:
    first = await journey.volunteer(
        "Iryna Bondar", "iryna@example.org", phone="+48601000011", skills=["housing"]
    )
    await journey.volunteer(
        "Marta Wiśniewska",
        "marta@example.org",
        phone="+48601000012",
        skills=["housing"],
        location={"lat": 52.57, "lon": 19.75},
        max_travel_km=15,
    )
    request = await journey.submit(skills=["housing"])
    await journey.wait_for(request["id"], "proposed")
    [offer] = await journey.mail_to("iryna@example.org")
    decline = link(body_of(offer), "decline")
    await answer_offer(journey.api, decline)

    [second] = await journey.mail_to("marta@example.org")
    assert link(body_of(second), "accept")
    body = await journey.wait_for(request["id"], "proposed")
    assert body["match"]["volunteer_first_name"] == "Marta"
    assert [o["outcome"] for o in body["offers"]] == ["declined", "proposed"]
    assert first["id"] not in str(body["offers"])


async def test_c_an_unanswered_offer_expires_and_goes_to_the_next(journey: Journey) -> None:
    await journey.volunteer(
        "Pekka Virtanen", "pekka@example.org", phone="+358401000021", skills=["transport"]
    )
    await journey.volunteer(
        "Aino Mäkinen",
        "aino@example.org",
        phone="+358401000022",
        skills=["transport"],
        location={"lat": 52.57, "lon": 19.75},
        max_travel_km=15,
    )
    request = await journey.submit(skills=["transport"], urgency="critical")
    await journey.mail_to("pekka@example.org")
    [second] = await journey.mail_to("aino@example.org", timeout=40)
    assert link(body_of(second), "accept")
    body = await journey.status(request["id"])
    assert [o["outcome"] for o in body["offers"]][:1] == ["expired"]


async def test_d_nobody_speaks_the_language_until_someone_registers(journey: Journey) -> None:
    desk_before = len([m for m in journey.mail.messages if m["To"] == "desk@example.org"])
    request = await journey.submit(
        languages=["ka"], beneficiary={"display_name": "Nino", "locale": "ka"}, skills=["legal_aid"]
    )
    body = await journey.wait_for(request["id"], "unmatched")
    assert body["unmatched_reasons"][0]["code"] == "no_shared_language"
    assert body["unmatched_reasons"][0]["languages"] == ["ka"]
    told = await journey.mail_to("desk@example.org", count=desk_before + 1)
    assert "Nino" in body_of(told[-1])

    await journey.volunteer(
        "Giorgi Beridze",
        "giorgi@example.org",
        phone="+48601000031",
        languages=[{"code": "ka", "level": "native"}, {"code": "pl", "level": "fluent"}],
        skills=["legal_aid"],
        locale="en",
    )
    await journey.wait_for(request["id"], "proposed")
    await journey.mail_to("giorgi@example.org")


async def test_e_cancelling_tells_the_volunteer_and_frees_their_capacity(journey: Journey) -> None:
    only = await journey.volunteer(
        "Oksana Melnyk",
        "oksana@example.org",
        phone="+48601000041",
        skills=["childcare"],
        capacity=1,
    )
    first = await journey.submit(skills=["childcare"])
    await journey.wait_for(first["id"], "proposed")
    waiting = await journey.submit(skills=["childcare"])
    await journey.wait_for(waiting["id"], "unmatched")

    cancelled = await journey.api.post(
        f"/v1/requests/{first['id']}/cancel", headers=journey.headers
    )
    assert cancelled.status_code == 200
    messages = await journey.mail_to("oksana@example.org", count=3)
    assert len(messages) == 3  # the first offer, the withdrawal, the next offer
    await journey.wait_for(waiting["id"], "proposed")
    assert (await journey.status(waiting["id"]))["match"]["volunteer_first_name"] == "Oksana"
    assert only["id"]


async def test_f_completion_with_feedback(journey: Journey) -> None:
    volunteer = await journey.volunteer(
        "Tomasz Zieliński",
        "tomasz@example.org",
        phone="+48601000051",
        skills=["digital_help"],
        locale="pl",
    )
    request = await journey.submit(skills=["digital_help"])
    body = await journey.wait_for(request["id"], "proposed")
    match_id = body["match"]["id"]
    accepted = await journey.api.post(
        f"/v1/matches/{match_id}/accept",
        headers={"Authorization": f"Bearer {volunteer['manage_token']}"},
    )
    assert accepted.status_code == 200
    done = await journey.api.post(
        f"/v1/matches/{match_id}/complete",
        json={"rating": 5, "comment": "Laptop set up, job portal account created."},
        headers=journey.headers,
    )
    assert done.status_code == 200
    body = await journey.wait_for(request["id"], "completed")
    assert body["offers"][-1]["outcome"] == "completed"
