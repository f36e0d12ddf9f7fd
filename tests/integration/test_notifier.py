"""The notifier against a real SMTP server, a real HTTP server standing in for the SMS
provider, the registry for contact look-ups, NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier.adapters.channels import Email, LogSms
from services.notifier.adapters.contacts import RegistryContacts
from services.notifier.adapters.unit_of_work import UnitOfWork
from services.notifier.bootstrap import create_app as create_notifier
from services.notifier.settings import NotifierSettings
from services.notifier.usecases.delivery import Delivery, recover_stuck
from services.notifier.usecases.recording import record_notifications
from services.registry import domain as registry_domain
from services.registry.adapters.orm import outbox as registry_outbox
from services.registry.bootstrap import create_app as create_registry
from shared import events
from shared.outbox import add_event
from tests import jetstream
from tests.conftest import Database
from tests.integration.conftest import Lifespans, registry_settings
from tests.samples import ADMIN_KEY, SECRET, answer_offer, request_body, volunteer_body
from tests.servers import HttpApp, MailServer, SmsProvider

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

    async def offer(self) -> dict[str, Any]:
        """Start a notifier, then publish an offer to a new volunteer for a new request."""
        await self.start_notifier()
        people = await self.setup_people()
        await jetstream.publish(self.nats_url, self.proposal(people))
        return people

    async def notification(self, channel: str) -> Any:
        """The one notification sent, or not, on ``channel``."""
        [row] = [r for r in await self.notifications() if r.channel == channel]
        return row

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
    notifiers = Lifespans()

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
        return await notifiers.start(create_notifier(settings))

    async with httpx.AsyncClient(base_url=registry.url, timeout=10) as client:
        for _ in range(100):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        yield Stack(clean_database, clean_nats, registry, mail, sms, client, start_notifier)
    await notifiers.stop_all()
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
    answered = await answer_offer(
        stack.client, f"/offers/{proposed.match_id}/accept?token={accept}"
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
    await stack.offer()
    await wait_until(lambda: len(stack.sms.calls) == 3)
    await asyncio.sleep(0.5)
    assert len(stack.sms.calls) == 3
    sms = await stack.notification("sms")
    assert sms.status == "sent" and sms.attempts == 3 and sms.provider_message_id.startswith("SM")


async def test_the_email_waits_for_the_smtp_server_to_come_back(stack: Stack) -> None:
    stack.mail.stop()
    await stack.offer()
    await wait_until(lambda: len(stack.sms.sent()) == 1)
    await asyncio.sleep(1.0)
    email = await stack.notification("email")
    assert email.status == "queued" and email.attempts >= 1 and "SMTP" in email.last_error
    stack.mail.start()
    await wait_until(lambda: len(stack.mail.messages) == 1)


async def test_a_refused_email_is_not_retried(stack: Stack) -> None:
    stack.mail.reply = "550 5.1.1 mailbox unavailable"
    await stack.offer()
    await wait_until(lambda: len(stack.sms.sent()) == 1)
    await asyncio.sleep(1.0)
    email = await stack.notification("email")
    assert email.status == "failed" and email.attempts == 1 and "550" in email.last_error


async def test_an_invalid_number_fails_once_and_is_reported(stack: Stack) -> None:
    stack.sms.responses = [400]
    await stack.offer()
    failed = await jetstream.wait_for_messages(stack.nats_url, "NOTIFIER", 2)
    await asyncio.sleep(1.0)
    assert len(stack.sms.calls) == 1
    sms = await stack.notification("sms")
    assert sms.status == "failed" and sms.attempts == 1 and "21211" in sms.last_error
    [event] = [e for s, e in failed if s == "notifier.notification.failed.v1"]
    assert event["channel"] == "sms" and event["reason"] == "permanent"


async def test_a_call_that_times_out_after_sending_is_not_sent_again(stack: Stack) -> None:
    stack.sms.responses = ["hang"]
    await stack.offer()
    await wait_until(lambda: len(stack.sms.calls) == 1)
    await asyncio.sleep(2.5)
    assert len(stack.sms.calls) == 1
    sms = await stack.notification("sms")
    assert sms.status == "unknown"


async def test_quiet_hours_hold_a_normal_sms_but_not_a_critical_one(stack: Stack) -> None:
    quiet_start, quiet_end = quiet_hours_now()
    await stack.start_notifier(quiet_hours_start=quiet_start, quiet_hours_end=quiet_end)
    normal = await stack.setup_people()
    await jetstream.publish(stack.nats_url, stack.proposal(normal, urgency="normal"))
    await wait_until(lambda: len(stack.mail.messages) == 1)
    await asyncio.sleep(0.5)
    assert stack.sms.sent() == []
    held = await stack.notification("sms")
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


# --- sign-in links --------------------------------------------------------------------------


async def record_in_registry_outbox(database: Database, event: events.Event) -> None:
    """What the registry's pages do when a volunteer asks for a link: the registry's relay
    takes it from there."""
    engine = create_async_engine(database.url)
    async with engine.begin() as conn:
        await add_event(conn, registry_outbox, event)
    await engine.dispose()


def sign_in_link(body: str, volunteer_id: str) -> tuple[str, int]:
    """The token and expiry of the (first) sign-in link in ``body``, text or HTML."""
    marker = f"/volunteer/enter/{volunteer_id}?"
    rest = unescape(body).split(marker)[1]
    query = parse_qs(urlsplit(marker + rest.split()[0].split('"')[0]).query)
    return query["token"][0], int(query["expires"][0])


async def test_a_sign_in_link_reaches_the_volunteer_once_in_their_language(stack: Stack) -> None:
    await stack.start_notifier()
    people = await stack.setup_people()
    volunteer_id = people["volunteer"]["id"]
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    requested = events.VolunteerSignInRequested(volunteer_id=volunteer_id, expires_at=expires_at)
    await record_in_registry_outbox(stack.database, requested)

    await wait_until(lambda: len(stack.mail.messages) == 1)
    [mail] = stack.mail.messages
    assert mail["To"] == "olena.kovalenko@example.org"
    assert mail["Content-Language"] == "uk"
    assert mail["Subject"] == "Ваше посилання на профіль в INVOLVIM Match"
    text, html = text_part(mail, "plain"), text_part(mail, "html")
    valid_until = expires_at.astimezone(ZoneInfo("Europe/Warsaw")).strftime("%H:%M")
    assert "Посилання дійсне до " in text and f", {valid_until}." in text
    assert text.startswith("Добрий день, Olena!")
    token, expires = sign_in_link(text, volunteer_id)
    assert expires == int(expires_at.timestamp())
    assert (token, expires) == sign_in_link(html, volunteer_id)
    assert registry_domain.sign_in_token_is_valid(
        SECRET,
        token,
        uuid.UUID(volunteer_id),
        datetime.fromtimestamp(expires, UTC),
        datetime.now(UTC),
    )

    # Delivered again (a relay that republished, a consumer that did not ack): nothing new.
    await jetstream.publish(stack.nats_url, requested, msg_id="again-1")
    await jetstream.publish(stack.nats_url, requested, msg_id="again-2")
    await asyncio.sleep(1.5)
    assert len(stack.mail.messages) == 1
    assert stack.sms.calls == []
    [row] = await stack.notifications()
    assert (row.kind, row.channel, row.status) == ("sign_in_link", "email", "sent")
    assert row.request_id is None and str(row.volunteer_id) == volunteer_id
    sent = await jetstream.wait_for_messages(stack.nats_url, "NOTIFIER", 1)
    assert [(e["kind"], e["channel"]) for s, e in sent if s.endswith("sent.v1")] == [
        ("sign_in_link", "email")
    ]


async def test_a_welcome_link_goes_by_email_whatever_the_channel_preferences(
    stack: Stack,
) -> None:
    # Quiet hours now: an email was never held by them, and a sign-in link is critical anyway.
    quiet_start, quiet_end = quiet_hours_now()
    await stack.start_notifier(quiet_hours_start=quiet_start, quiet_hours_end=quiet_end)
    people = await stack.setup_people(channels=["sms"], locale="fi", timezone="Europe/Helsinki")
    volunteer_id = people["volunteer"]["id"]
    expires_at = datetime.now(UTC) + timedelta(days=1)
    await jetstream.publish(
        stack.nats_url,
        events.VolunteerSignInRequested(
            volunteer_id=volunteer_id, expires_at=expires_at, welcome=True
        ),
    )
    await wait_until(lambda: len(stack.mail.messages) == 1)
    [mail] = stack.mail.messages
    assert mail["Content-Language"] == "fi"
    text = text_part(mail, "plain")
    assert "Kiitos, että rekisteröidyit" in text
    token, expires = sign_in_link(text, volunteer_id)
    assert expires == int(expires_at.timestamp())  # the fraction of a second is dropped
    assert registry_domain.sign_in_token_is_valid(
        SECRET,
        token,
        uuid.UUID(volunteer_id),
        datetime.fromtimestamp(expires, UTC),
        datetime.now(UTC),
    )
    assert stack.sms.calls == []


async def test_no_sign_in_link_for_an_erased_volunteer_an_expired_link_or_a_stranger(
    stack: Stack,
) -> None:
    await stack.start_notifier()
    people = await stack.setup_people()
    volunteer = people["volunteer"]
    erased = await stack.client.delete(
        f"/v1/volunteers/{volunteer['id']}",
        headers={"Authorization": f"Bearer {volunteer['manage_token']}"},
    )
    assert erased.status_code == 204, erased.text
    other = (
        await stack.client.post(
            "/v1/volunteers", json=volunteer_body(email="other@example.org", phone="+48601111222")
        )
    ).json()
    later, stranger = datetime.now(UTC) + timedelta(hours=1), uuid.uuid4()
    for requested in (
        events.VolunteerSignInRequested(volunteer_id=volunteer["id"], expires_at=later),
        events.VolunteerSignInRequested(
            volunteer_id=other["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
        ),
        events.VolunteerSignInRequested(volunteer_id=stranger, expires_at=later),
    ):
        await jetstream.publish(stack.nats_url, requested)

    async def finished() -> list[Any]:
        return [r for r in await stack.notifications() if r.status not in ("queued", "sending")]

    deadline = asyncio.get_running_loop().time() + 20
    while len(rows := await finished()) < 3:
        assert asyncio.get_running_loop().time() < deadline, rows
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert stack.mail.messages == []
    reasons = {r.volunteer_id: (r.status, r.last_error) for r in rows}
    assert reasons[uuid.UUID(volunteer["id"])] == ("skipped", "the volunteer erased their data")
    assert reasons[uuid.UUID(other["id"])] == (
        "skipped",
        "the link expired before it could be sent",
    )
    assert reasons[stranger] == (
        "skipped",
        "the registry does not know the volunteer",
    )


async def test_the_registry_signs_sign_in_links_for_the_notifier_only(stack: Stack) -> None:
    people = await stack.setup_people()
    volunteer = people["volunteer"]
    path = f"/internal/v1/volunteers/{volunteer['id']}/sign-in"
    expires = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    service = {"Authorization": f"Bearer {SECRET}"}
    assert (await stack.client.get(path, params={"expires": expires})).status_code == 401
    wrong = {"Authorization": f"Bearer {volunteer['manage_token']}"}
    assert (
        await stack.client.get(path, params={"expires": expires}, headers=wrong)
    ).status_code == 401
    assert (await stack.client.get(path, headers=service)).status_code == 422
    unknown = await stack.client.get(
        f"/internal/v1/volunteers/{uuid.uuid4()}/sign-in",
        params={"expires": expires},
        headers=service,
    )
    assert unknown.status_code == 404

    body = (await stack.client.get(path, params={"expires": expires}, headers=service)).json()
    assert body["volunteer"]["first_name"] == "Olena"
    assert body["volunteer"]["email"] == "olena.kovalenko@example.org"
    assert body["volunteer"]["erased"] is False
    token, signed_expires = sign_in_link(body["sign_in_url"], volunteer["id"])
    assert signed_expires == expires
    assert body["sign_in_url"].startswith("http://127.0.0.1:8000/volunteer/enter/")
    assert registry_domain.sign_in_token_is_valid(
        SECRET,
        token,
        uuid.UUID(volunteer["id"]),
        datetime.fromtimestamp(expires, UTC),
        datetime.now(UTC),
    )

    await stack.client.delete(
        f"/v1/volunteers/{volunteer['id']}",
        headers={"Authorization": f"Bearer {volunteer['manage_token']}"},
    )
    body = (await stack.client.get(path, params={"expires": expires}, headers=service)).json()
    assert body["sign_in_url"] is None
    assert body["volunteer"]["erased"] is True and body["volunteer"]["email"] is None


# --- after a crash --------------------------------------------------------------------------


async def test_after_a_crash_an_email_is_queued_again_and_an_sms_is_not_resent(
    clean_database: Database,
) -> None:
    engine = create_async_engine(clean_database.url)
    relay_woken: list[None] = []

    def new_uow() -> UnitOfWork:
        return UnitOfWork(engine, on_commit=lambda: relay_woken.append(None))

    def proposed() -> events.MatchProposed:
        return events.MatchProposed(
            match_id=uuid.uuid4(),
            request_id=uuid.uuid4(),
            volunteer_id=uuid.uuid4(),
            organisation_id=uuid.uuid4(),
            urgency="normal",
            score=0.5,
            breakdown={},
            reasons=[],
        )

    crashed, in_hand = proposed(), proposed()
    for event in (crashed, crashed, in_hand):  # the first one delivered twice
        assert await record_notifications(new_uow(), event)
    # Claimed as 'sending': by a process that died mid-call three minutes ago, and by one
    # that is calling a provider right now.
    async with engine.begin() as conn:
        for event, claimed_at in (
            (crashed, datetime.now(UTC) - timedelta(minutes=3)),
            (in_hand, datetime.now(UTC)),
        ):
            await conn.execute(
                sa.text(
                    "UPDATE notifier.notifications SET status = 'sending', updated_at = :at "
                    "WHERE source_event_id = :event"
                ),
                {"at": claimed_at, "event": event.event_id},
            )
    contacts = RegistryContacts("http://127.0.0.1:9", SECRET)  # never asked: nothing is sent
    delivery = Delivery(new_uow, contacts, Email("127.0.0.1", 9, "match@example.org"), LogSms(None))

    await recover_stuck(delivery)

    await contacts.close()
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM notifier.notifications"))).all()
        outbox = (await conn.execute(sa.text("SELECT subject, payload FROM notifier.outbox"))).all()
    await engine.dispose()
    assert {(r.source_event_id, r.channel): (r.status, r.last_error) for r in rows} == {
        (crashed.event_id, "email"): ("queued", None),
        (crashed.event_id, "sms"): ("unknown", "interrupted during the provider call"),
        (in_hand.event_id, "email"): ("sending", None),
        (in_hand.event_id, "sms"): ("sending", None),
    }
    [(subject, payload)] = outbox
    assert subject == "notifier.notification.failed.v1"
    assert (payload["channel"], payload["kind"], payload["reason"]) == (
        "sms",
        "offer",
        "unknown outcome",
    )
    assert payload["source_event_id"] == str(crashed.event_id)
    assert relay_woken == [None]
