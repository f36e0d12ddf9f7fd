"""The notifier against a real SMTP server, a real HTTP server standing in for the SMS
provider, the registry for contact look-ups, NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier.app import create_app as create_notifier
from services.notifier.settings import NotifierSettings
from services.registry.app import create_app as create_registry
from shared import events
from tests import jetstream
from tests.conftest import Database
from tests.integration.conftest import registry_settings
from tests.samples import ADMIN_KEY, SECRET, request_body, volunteer_body
from tests.servers import HttpApp, MailServer, SmsProvider

pytestmark = pytest.mark.integration

TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM = "AC0123456789", "twilio-secret", "+48500100200"


def quiet_hours_not_now(timezone: str = "Europe/Warsaw") -> tuple[int, int]:
    hour = datetime.now(ZoneInfo(timezone)).hour
    return (hour + 3) % 24, (hour + 4) % 24


def quiet_hours_now(timezone: str = "Europe/Warsaw") -> tuple[int, int]:
    hour = datetime.now(ZoneInfo(timezone)).hour
    return (hour - 1) % 24, (hour + 2) % 24


@dataclass
class Stack:
    database: Database
    nats_url: str
    registry: HttpApp
    mail: MailServer
    sms: SmsProvider
    client: httpx.AsyncClient
    start_notifier: Callable[..., Any]

    async def setup_people(self, **volunteer_changes: Any) -> dict[str, Any]:
        org = (
            await self.client.post(
                "/v1/organisations",
                json={"name": "Płock Family Foundation", "email": "desk@example.org"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
        ).json()
        volunteer = (
            await self.client.post("/v1/volunteers", json=volunteer_body(**volunteer_changes))
        ).json()
        assert "id" in volunteer, volunteer
        request = (
            await self.client.post(
                "/v1/requests",
                json=request_body(),
                headers={"Authorization": f"Bearer {org['api_key']}"},
            )
        ).json()
        return {"org": org, "volunteer": volunteer, "request": request}

    def proposal(self, people: dict[str, Any], urgency: str = "normal") -> events.MatchProposed:
        return events.MatchProposed(
            match_id=uuid.uuid4(),
            request_id=people["request"]["id"],
            volunteer_id=people["volunteer"]["id"],
            organisation_id=people["org"]["id"],
            urgency=urgency,  # type: ignore[arg-type]
            score=0.91,
            breakdown={
                "language": 1.0,
                "skills": 1.0,
                "distance": 0.9,
                "availability": 0.8,
                "load": 1.0,
            },
            reasons=[
                events.Reason(code="shared_language", language="uk", level="native"),  # type: ignore[call-arg]
                events.Reason(code="distance", km=1.2),  # type: ignore[call-arg]
                events.Reason(code="available", day="tue", start="17:00", end="19:00"),  # type: ignore[call-arg]
            ],
        )

    async def notifications(self) -> list[Any]:
        engine = create_async_engine(self.database.url)
        async with engine.connect() as conn:
            rows = list(
                (
                    await conn.execute(
                        sa.text("SELECT * FROM notifier.notifications ORDER BY channel")
                    )
                ).all()
            )
        await engine.dispose()
        return rows


async def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def stack(clean_database: Database, clean_nats: str) -> AsyncIterator[Stack]:
    registry = HttpApp(create_registry(registry_settings(clean_database.url, clean_nats)))
    await registry.start()
    mail = MailServer()
    mail.start()
    sms = SmsProvider()
    sms.start()
    running: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    async def start_notifier(**changes: Any) -> FastAPI:
        quiet_start, quiet_end = quiet_hours_not_now()
        changes = {"quiet_hours_start": quiet_start, "quiet_hours_end": quiet_end} | changes
        settings = NotifierSettings(
            _env_file=None,
            database_url=clean_database.url,
            nats_url=clean_nats,
            registry_url=registry.url,
            service_token=SECRET,
            smtp_host="127.0.0.1",
            smtp_port=mail.port,
            email_from="INVOLVIM Match <match@example.org>",
            sms_provider="twilio",
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from=TWILIO_FROM,
            twilio_api_base=sms.url,
            sms_timeout_seconds=1.0,
            delivery_backoff_seconds=0.2,
            delivery_poll_seconds=0.1,
            outbox_poll_seconds=0.05,
            **changes,
        )
        app = create_notifier(settings)
        started, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with app.router.lifespan_context(app):
                started.set()
                await stop.wait()

        task = asyncio.create_task(serve())
        await asyncio.wait_for(started.wait(), 30)
        running.append((task, stop))
        return app

    async with httpx.AsyncClient(base_url=registry.url, timeout=10) as client:
        for _ in range(100):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        yield Stack(clean_database, clean_nats, registry, mail, sms, client, start_notifier)
    for task, stop in running:
        stop.set()
        await asyncio.wait_for(task, 30)
    await registry.stop()
    mail.stop()
    sms.stop()


def text_part(message: Any, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


async def test_the_offer_reaches_the_volunteer_by_email_and_sms_in_their_language(
    stack: Stack,
) -> None:
    await stack.start_notifier()
    people = await stack.setup_people()
    proposed = stack.proposal(people)
    await jetstream.publish(stack.nats_url, proposed)

    await wait_until(lambda: len(stack.mail.messages) == 1 and len(stack.sms.sent()) == 1)
    [mail] = stack.mail.messages
    assert mail["To"] == "olena.kovalenko@example.org"
    assert mail["From"] == "INVOLVIM Match <match@example.org>"
    assert mail["Content-Language"] == "uk"
    assert mail["Message-ID"].endswith("@involvim-match>")
    text, html = text_part(mail, "plain"), text_part(mail, "html")
    for body in (text, html):
        assert f"/offers/{proposed.match_id}/accept?token=" in body
        assert f"/offers/{proposed.match_id}/decline?token=" in body
        assert "Olena" in body
        assert "вівторок" in body.lower()  # the reason "available on Tuesday", in Ukrainian
    assert 'lang="uk"' in html

    [call] = stack.sms.sent()
    assert call.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert (call.username, call.password) == (TWILIO_SID, TWILIO_TOKEN)
    assert call.form["To"] == "+48601234567" and call.form["From"] == TWILIO_FROM
    # The SMS carries the short link, which leads to the same confirmation page.
    short = call.form["Body"].split("/o/")[1].split()[0]
    assert len(call.form["Body"]) > len(short) + 20  # words, not only a link
    page = await stack.client.get(f"/o/{short}")
    assert page.status_code == 200 and 'lang="uk"' in page.text
    assert f'action="/offers/{proposed.match_id}/accept"' in page.text

    # The link in the message works: the volunteer accepts, the organisation hears of it.
    accept = text.split(f"/offers/{proposed.match_id}/accept?token=")[1].split()[0]
    answered = await stack.client.post(
        f"/offers/{proposed.match_id}/accept", data={"token": accept}
    )
    assert answered.status_code == 200
    await wait_until(lambda: any(m["To"] == "desk@example.org" for m in stack.mail.messages))

    sent = await jetstream.wait_for_messages(stack.nats_url, "NOTIFIER", 3)
    assert {e["channel"] for s, e in sent if s == "notifier.notification.sent.v1"} == {
        "email",
        "sms",
    }


async def test_one_event_delivered_three_times_sends_one_email_and_one_sms(stack: Stack) -> None:
    await stack.start_notifier()
    people = await stack.setup_people()
    proposed = stack.proposal(people)
    await jetstream.publish(stack.nats_url, proposed)
    await jetstream.publish(stack.nats_url, proposed, msg_id="again-1")
    await jetstream.publish(stack.nats_url, proposed, msg_id="again-2")
    await wait_until(lambda: len(stack.mail.messages) >= 1 and len(stack.sms.sent()) >= 1)
    await asyncio.sleep(1.5)
    assert len(stack.mail.messages) == 1
    assert len(stack.sms.sent()) == 1
    assert sorted(r.status for r in await stack.notifications()) == ["sent", "sent"]


async def test_provider_errors_are_retried_until_one_sms_is_sent(stack: Stack) -> None:
    stack.sms.responses = [500, 429, 201]
    await stack.start_notifier()
    people = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    await wait_until(lambda: len(stack.sms.calls) == 3)
    await asyncio.sleep(0.5)
    assert len(stack.sms.calls) == 3
    [sms] = [r for r in await stack.notifications() if r.channel == "sms"]
    assert sms.status == "sent" and sms.attempts == 3 and sms.provider_message_id.startswith("SM")


async def test_the_email_waits_for_the_smtp_server_to_come_back(stack: Stack) -> None:
    stack.mail.stop()
    await stack.start_notifier()
    people = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    await wait_until(lambda: len(stack.sms.sent()) == 1)
    await asyncio.sleep(1.0)
    [email] = [r for r in await stack.notifications() if r.channel == "email"]
    assert email.status == "queued" and email.attempts >= 1 and "SMTP" in email.last_error
    stack.mail.start()
    await wait_until(lambda: len(stack.mail.messages) == 1)


async def test_a_refused_email_is_not_retried(stack: Stack) -> None:
    stack.mail.reply = "550 5.1.1 mailbox unavailable"
    await stack.start_notifier()
    people = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    await wait_until(lambda: len(stack.sms.sent()) == 1)
    await asyncio.sleep(1.0)
    [email] = [r for r in await stack.notifications() if r.channel == "email"]
    assert email.status == "failed" and email.attempts == 1 and "550" in email.last_error


async def test_an_invalid_number_fails_once_and_is_reported(stack: Stack) -> None:
    stack.sms.responses = [400]
    await stack.start_notifier()
    people = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    failed = await jetstream.wait_for_messages(stack.nats_url, "NOTIFIER", 2)
    await asyncio.sleep(1.0)
    assert len(stack.sms.calls) == 1
    [sms] = [r for r in await stack.notifications() if r.channel == "sms"]
    assert sms.status == "failed" and sms.attempts == 1 and "21211" in sms.last_error
    [event] = [e for s, e in failed if s == "notifier.notification.failed.v1"]
    assert event["channel"] == "sms" and event["reason"] == "permanent"


async def test_a_call_that_times_out_after_sending_is_not_sent_again(stack: Stack) -> None:
    stack.sms.responses = ["hang"]
    await stack.start_notifier()
    people = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    await wait_until(lambda: len(stack.sms.calls) == 1)
    await asyncio.sleep(2.5)
    assert len(stack.sms.calls) == 1
    [sms] = [r for r in await stack.notifications() if r.channel == "sms"]
    assert sms.status == "unknown"


async def test_quiet_hours_hold_a_normal_sms_but_not_a_critical_one(stack: Stack) -> None:
    quiet_start, quiet_end = quiet_hours_now()
    await stack.start_notifier(quiet_hours_start=quiet_start, quiet_hours_end=quiet_end)
    normal = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(normal, urgency="normal"))
    await wait_until(lambda: len(stack.mail.messages) == 1)
    await asyncio.sleep(0.5)
    assert stack.sms.sent() == []
    [held] = [r for r in await stack.notifications() if r.channel == "sms"]
    assert held.status == "held"
    assert held.next_attempt_at.astimezone(ZoneInfo("Europe/Warsaw")).hour == quiet_end

    critical = await stack.setup_people(email="other@example.org", phone="+48601111222")
    await jetstream.publish(stack.nats_url, stack.proposal(critical, urgency="critical"))
    await wait_until(lambda: len(stack.sms.sent()) == 1)
    assert stack.sms.sent()[0].form["To"] == "+48601111222"


async def test_channel_preferences_are_honoured(stack: Stack) -> None:
    await stack.start_notifier()
    people = await stack.setup_people(channels=["email"])
    await jetstream.publish(stack.nats_url, stack.proposal(people))
    await wait_until(lambda: len(stack.mail.messages) == 1)
    await asyncio.sleep(0.5)
    assert stack.sms.calls == []
    statuses = {r.channel: (r.status, r.last_error) for r in await stack.notifications()}
    assert statuses["sms"] == ("skipped", "the volunteer opted out of sms")


_ = UTC
