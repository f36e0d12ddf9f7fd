"""The registry's web pages over HTTP against a real PostgreSQL and NATS: forms, CSRF,
sessions, languages and the same authorisation as the API."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry import domain
from services.registry.entrypoints.web import security
from tests.integration.conftest import Registry
from tests.samples import volunteer_body


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def volunteer_form(csrf: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "name": "Olena Kovalenko",
        "email": "olena@example.org",
        "phone": "+48601234567",
        "locale": "uk",
        "lang_code_0": "uk",
        "lang_level_0": "native",
        "lang_code_1": "pl",
        "lang_level_1": "fluent",
        "skills": ["translation", "paperwork"],
        "lat": "52.5463",
        "lon": "19.7065",
        "max_travel_km": "10",
        "slot": ["tue-17", "tue-18", "tue-19", "thu-18"],
        "timezone": "Europe/Warsaw",
        "capacity": "2",
        "channels": ["email", "sms"],
        "consent": "on",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def request_form(csrf: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "idempotency_key": "6f1c1f1e-4a53-4c8e-9d43-0d5b8f3f6a10",
        "beneficiary_name": "Mariam",
        "beneficiary_locale": "uk",
        "contact_consent": "on",
        "language_0": "uk",
        "language_1": "ru",
        "skills": ["paperwork"],
        "lat": "52.55",
        "lon": "19.70",
        "slot": ["tue-16", "tue-17", "tue-18"],
        "timezone": "Europe/Warsaw",
        "urgency": "high",
        "needed_by": (date.today() + timedelta(days=20)).isoformat(),
        "description": "Residence permit form.",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def counts(registry: Registry) -> dict[str, int]:
    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        found = {
            table: int(await conn.scalar(sa.text(f"SELECT count(*) FROM registry.{table}")) or 0)
            for table in ("volunteers", "requests", "outbox", "matches")
        }
    await engine.dispose()
    return found


async def outbox_subjects(registry: Registry) -> list[str]:
    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT subject FROM registry.outbox ORDER BY id"))
        subjects = [str(r[0]) for r in rows]
    await engine.dispose()
    return subjects


async def sign_up(registry: Registry, **changes: Any) -> httpx.Response:
    page = await registry.client.get("/volunteer/sign-up")
    return await registry.client.post(
        "/volunteer/sign-up", data=volunteer_form(csrf_of(page), **changes)
    )


async def desk_session(
    registry: Registry, name: str = "Płock Family Foundation"
) -> httpx.AsyncClient:
    """A separate browser (its own cookies) signed in at an organisation's desk."""
    org = await registry.new_organisation(name)
    client = httpx.AsyncClient(
        transport=registry.client._transport, base_url="http://registry.test"
    )
    page = await client.get("/desk/sign-in")
    signed = await client.post(
        "/desk/sign-in", data={"csrf_token": csrf_of(page), "api_key": org["api_key"]}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/desk/requests"
    return client


# --- languages ------------------------------------------------------------------------------


async def test_page_language_follows_the_browser_and_the_switcher(registry: Registry) -> None:
    ukrainian = await registry.client.get(
        "/volunteer/sign-up", headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"}
    )
    assert ukrainian.status_code == 200
    assert '<html lang="uk">' in ukrainian.text
    assert "Стати волонтером" in ukrainian.text
    assert "вівторок" in ukrainian.text  # weekday names from the locale's data
    polish = await registry.client.get("/volunteer/sign-up?lang=pl")
    assert '<html lang="pl">' in polish.text and "wtorek" in polish.text
    # The choice is remembered over the browser's preference.
    assert polish.cookies.get(security.LANGUAGE_COOKIE) == "pl"
    again = await registry.client.get("/", headers={"Accept-Language": "fi"})
    assert '<html lang="pl">' in again.text
    # Every language has a visible switcher link on every page.
    for code in ("pl", "en", "uk", "ru", "fi", "pt", "sl"):
        assert f'hreflang="{code}"' in again.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fi-FI,fi;q=0.9", "fi"),
        ("pt-BR", "pt"),
        ("sl", "sl"),
        ("de-DE,ru;q=0.5", "ru"),
        ("ka", "en"),
    ],
)
async def test_unsupported_and_regional_languages_are_negotiated(
    registry: Registry, header: str, expected: str
) -> None:
    registry.client.cookies.clear()
    page = await registry.client.get("/", headers={"Accept-Language": header})
    assert (
        f'lang="{"pt-PT" if expected == "pt" else "en-GB" if expected == "en" else expected}"'
        in page.text
    )


# --- volunteer sign-up ----------------------------------------------------------------------


async def test_sign_up_registers_opens_the_profile_and_sends_a_link(registry: Registry) -> None:
    answer = await sign_up(registry)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/volunteer/profile?welcome=1"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    profile = await registry.client.get("/volunteer/profile?welcome=1&lang=uk")
    assert profile.status_code == 200
    assert "Olena" in profile.text and "Kovalenko" not in profile.text.split("<main")[0]
    assert "вівторок 17:00–20:00" in profile.text  # three ticked hours are one window
    assert await outbox_subjects(registry) == [
        "registry.volunteer.registered.v1",
        "registry.volunteer.sign_in_requested.v1",
    ]


async def test_bad_values_are_shown_next_to_the_fields_and_nothing_is_stored(
    registry: Registry,
) -> None:
    before = await counts(registry)
    page = await registry.client.get("/volunteer/sign-up?lang=pl")
    answer = await registry.client.post(
        "/volunteer/sign-up",
        data=volunteer_form(
            csrf_of(page), email="not-an-address", phone="12345", skills=None, slot=None,
            consent=None, lat=None, lon=None,
        ),
    )  # fmt: skip
    assert answer.status_code == 422
    text = answer.text
    for field in ("email", "phone", "skills", "availability", "consent", "place"):
        assert f'id="{field}-error"' in text, field
    assert 'aria-invalid="true"' in text
    # What was typed stays in the form.
    assert 'value="Olena Kovalenko"' in text
    assert await counts(registry) == before


async def test_a_form_without_the_readers_csrf_token_changes_nothing(registry: Registry) -> None:
    await registry.client.get("/volunteer/sign-up")
    before = await counts(registry)
    forged = await registry.client.post("/volunteer/sign-up", data=volunteer_form("x" * 43))
    assert forged.status_code == 403
    missing = await registry.client.post(
        "/volunteer/sign-up",
        data={k: v for k, v in volunteer_form("").items() if k != "csrf_token"},
    )
    assert missing.status_code == 403
    assert await counts(registry) == before


# --- signing in by link ---------------------------------------------------------------------


async def test_the_emailed_link_opens_the_profile_and_a_forged_one_does_not(
    registry: Registry,
) -> None:
    await sign_up(registry)
    volunteer_id = await only_volunteer_id(registry)
    registry.client.cookies.clear()
    assert (await registry.client.get("/volunteer/profile")).headers[
        "location"
    ] == "/volunteer/sign-in"
    url = domain.sign_in_url(
        "http://registry.test", registry.settings.link_secret, volunteer_id,
        domain_expiry(hours=1),
    )  # fmt: skip
    path = url.removeprefix("http://registry.test")
    forged = path.replace("token=", "token=0")
    assert (await registry.client.get(forged)).status_code == 404
    entered = await registry.client.get(path)
    assert entered.status_code == 303 and entered.headers["location"] == "/volunteer/profile"
    assert (await registry.client.get("/volunteer/profile")).status_code == 200


async def test_asking_for_a_link_says_the_same_for_known_and_unknown_addresses(
    registry: Registry,
) -> None:
    await sign_up(registry)
    page = await registry.client.get("/volunteer/sign-in")
    known = await registry.client.post(
        "/volunteer/sign-in", data={"csrf_token": csrf_of(page), "email": "OLENA@example.org"}
    )
    unknown = await registry.client.post(
        "/volunteer/sign-in", data={"csrf_token": csrf_of(page), "email": "nobody@example.org"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("OLENA@example.org", "X") == unknown.text.replace(
        "nobody@example.org", "X"
    )
    assert (await outbox_subjects(registry)).count("registry.volunteer.sign_in_requested.v1") == 2


# --- the profile ----------------------------------------------------------------------------


async def test_edit_pause_download_and_delete(registry: Registry) -> None:
    await sign_up(registry)
    edit = await registry.client.get("/volunteer/profile/edit")
    assert 'value="tue-17" id="slot-tue-17" checked' in edit.text
    changed = await registry.client.post(
        "/volunteer/profile/edit",
        data=volunteer_form(csrf_of(edit), consent=None, capacity="3", slot=["sat-10", "sat-11"]),
    )
    assert changed.status_code == 303, changed.text
    refused = await registry.client.post(
        "/volunteer/profile/edit", data=volunteer_form(csrf_of(edit), consent=None, capacity="0")
    )
    assert refused.status_code == 422 and 'id="capacity-error"' in refused.text
    paused = await registry.client.post(
        "/volunteer/profile/pause", data={"csrf_token": csrf_of(edit), "paused": "1"}
    )
    assert paused.status_code == 303
    data = await registry.client.get("/volunteer/profile/data.json")
    assert data.headers["content-disposition"].startswith("attachment")
    body = json.loads(data.text)
    assert body["profile"]["capacity"] == 3 and body["profile"]["paused"] is True
    assert body["profile"]["availability"] == [{"day": "sat", "start": "10:00", "end": "12:00"}]
    deleted = await registry.client.post("/volunteer/delete", data={"csrf_token": csrf_of(edit)})
    assert deleted.status_code == 200
    assert (await registry.client.get("/volunteer/profile")).status_code == 303
    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.text("SELECT name, email, phone, lat FROM registry.volunteers"))
        ).one()
    await engine.dispose()
    assert tuple(row) == (None, None, None, None)


# --- the desk -------------------------------------------------------------------------------


async def test_desk_needs_the_key_and_files_a_request_once(registry: Registry) -> None:
    page = await registry.client.get("/desk/sign-in")
    wrong = await registry.client.post(
        "/desk/sign-in", data={"csrf_token": csrf_of(page), "api_key": "org_wrong" * 5}
    )
    assert wrong.status_code == 401 and 'id="api_key-error"' in wrong.text
    assert (await registry.client.get("/desk/requests")).headers["location"] == "/desk/sign-in"

    desk = await desk_session(registry)
    form = await desk.get("/desk/requests/new?lang=pl")
    assert form.status_code == 200 and 'lang="pl"' in form.text
    filed = await desk.post("/desk/requests/new", data=request_form(csrf_of(form)))
    assert filed.status_code == 303, filed.text
    again = await desk.post("/desk/requests/new", data=request_form(csrf_of(form)))
    assert again.headers["location"] == filed.headers["location"]  # a double click files one
    assert (await counts(registry))["requests"] == 1
    shown = await desk.get(filed.headers["location"].split("?")[0])
    assert shown.status_code == 200 and "Mariam" in shown.text
    listed = await desk.get("/desk/requests")
    assert "Mariam" in listed.text
    await desk.aclose()


async def test_desk_refusals_are_next_to_the_fields(registry: Registry) -> None:
    desk = await desk_session(registry)
    form = await desk.get("/desk/requests/new")
    answer = await desk.post(
        "/desk/requests/new",
        data=request_form(
            csrf_of(form), beneficiary_name="", language_0=None, language_1=None,
            needed_by="2001-01-01", beneficiary_phone="0048", lat=None, lon=None,
        ),
    )  # fmt: skip
    assert answer.status_code == 422
    for field in ("beneficiary_name", "languages", "needed_by", "beneficiary_phone", "place"):
        assert f'id="{field}-error"' in answer.text, field
    assert (await counts(registry))["requests"] == 0
    await desk.aclose()


async def test_an_organisation_sees_only_its_own_requests(registry: Registry) -> None:
    first = await desk_session(registry, "Płock Family Foundation")
    form = await first.get("/desk/requests/new")
    filed = await first.post("/desk/requests/new", data=request_form(csrf_of(form)))
    path = filed.headers["location"].split("?")[0]
    second = await desk_session(registry, "Seinäjoki Labour Office")
    assert (await second.get(path)).status_code == 404
    assert "Mariam" not in (await second.get("/desk/requests")).text
    other_form = await second.get("/desk/requests/new")
    cancelled = await second.post(f"{path}/cancel", data={"csrf_token": csrf_of(other_form)})
    assert cancelled.status_code == 404
    assert "cancelled" not in (await first.get(path)).text.split("request-status")[1][:80]
    await first.aclose()
    await second.aclose()


async def test_desk_cancels_a_request(registry: Registry) -> None:
    desk = await desk_session(registry)
    form = await desk.get("/desk/requests/new")
    filed = await desk.post("/desk/requests/new", data=request_form(csrf_of(form)))
    path = filed.headers["location"].split("?")[0]
    done = await desk.post(f"{path}/cancel", data={"csrf_token": csrf_of(form)})
    assert done.status_code == 303
    assert "registry.request.cancelled.v1" in await outbox_subjects(registry)
    await desk.aclose()


# --- helpers --------------------------------------------------------------------------------


async def only_volunteer_id(registry: Registry) -> Any:
    engine = create_async_engine(registry.settings.database_url)
    async with engine.connect() as conn:
        found = await conn.scalar(sa.text("SELECT id FROM registry.volunteers"))
    await engine.dispose()
    return found


def domain_expiry(hours: int) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


# --- places and TLS -------------------------------------------------------------------------


async def test_place_suggestions_and_a_form_without_javascript(registry: Registry) -> None:
    found = await registry.client.get("/places", params={"q": "plock"})
    assert found.status_code == 200
    first = found.json()[0]
    assert first["label"].startswith("Płock") and abs(first["lat"] - 52.55) < 0.05
    assert first["timezone"] == "Europe/Warsaw"
    # Typed without picking: an ambiguous name asks which one, and nothing is stored yet.
    page = await registry.client.get("/volunteer/sign-up")
    ambiguous = await registry.client.post(
        "/volunteer/sign-up",
        data=volunteer_form(
            csrf_of(page), lat=None, lon=None, timezone="auto", place_query="Louth"
        ),
    )
    assert ambiguous.status_code == 422
    choices = re.findall(r'name="place_id" id="place-(\d+)"', ambiguous.text)
    assert len(choices) >= 2
    assert (await counts(registry))["volunteers"] == 0
    # Picking one registers, with that place's coordinates and time zone.
    picked = await registry.client.post(
        "/volunteer/sign-up",
        data=volunteer_form(
            csrf_of(page), lat=None, lon=None, timezone="auto", place_query="Louth",
            place_id=choices[0],
        ),
    )  # fmt: skip
    assert picked.status_code == 303, picked.text
    data = json.loads((await registry.client.get("/volunteer/profile/data.json")).text)
    assert data["profile"]["timezone"] in ("Europe/London", "Europe/Dublin")
    assert 53 < data["profile"]["location"]["lat"] < 54


async def test_cookies_are_secure_when_served_over_tls(registry: Registry) -> None:
    secure = httpx.AsyncClient(
        transport=registry.client._transport, base_url="https://registry.test"
    )
    page = await secure.get("/volunteer/sign-up")
    assert "Secure" in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    answer = await secure.post("/volunteer/sign-up", data=volunteer_form(csrf_of(page)))
    assert answer.status_code == 303
    session = [c for c in answer.headers.get_list("set-cookie") if c.startswith("involvim_session")]
    assert session and "Secure" in session[0] and "SameSite=lax" in session[0]
    await secure.aclose()


async def test_every_form_refuses_a_post_without_the_csrf_token(registry: Registry) -> None:
    await sign_up(registry)
    desk = await desk_session(registry)
    form = await desk.get("/desk/requests/new")
    filed = await desk.post("/desk/requests/new", data=request_form(csrf_of(form)))
    request_path = filed.headers["location"].split("?")[0]
    before = await counts(registry)
    volunteer_posts = [
        "/volunteer/sign-up",
        "/volunteer/sign-in",
        "/volunteer/sign-out",
        "/volunteer/profile/edit",
        "/volunteer/profile/pause",
        f"/volunteer/offers/{uuid.uuid4()}/accept",
        "/volunteer/delete",
        f"/offers/{uuid.uuid4()}/accept",
    ]
    desk_posts = [
        "/desk/sign-in",
        "/desk/sign-out",
        "/desk/requests/new",
        f"{request_path}/cancel",
        f"{request_path}/complete",
    ]
    for client, paths in ((registry.client, volunteer_posts), (desk, desk_posts)):
        for path in paths:
            answer = await client.post(path, data={"csrf_token": "forged", "paused": "1"})
            assert answer.status_code == 403, path
    assert await counts(registry) == before
    assert (await registry.client.get("/volunteer/profile")).status_code == 200  # still signed in
    await desk.aclose()


async def test_saving_the_form_keeps_times_the_grid_cannot_show(registry: Registry) -> None:
    created = await registry.client.post(
        "/v1/volunteers",
        json=volunteer_body(availability=[{"day": "tue", "start": "17:30", "end": "19:00"}]),
    )
    volunteer = created.json()
    url = domain.sign_in_url(
        "http://registry.test", registry.settings.link_secret, uuid.UUID(volunteer["id"]),
        domain_expiry(hours=1),
    )  # fmt: skip
    await registry.client.get(url.removeprefix("http://registry.test"))
    edit = await registry.client.get("/volunteer/profile/edit")
    values = dict(
        re.findall(r'name="(slots_before|availability_before)" value="([^"]*)"', edit.text)
    )
    kept = await registry.client.post(
        "/volunteer/profile/edit",
        data=volunteer_form(
            csrf_of(edit), consent=None, slot=["tue-18"], slots_before=values["slots_before"],
            availability_before=html.unescape(values["availability_before"]), capacity="3",
        ),
    )  # fmt: skip
    assert kept.status_code == 303, kept.text
    data = json.loads((await registry.client.get("/volunteer/profile/data.json")).text)
    assert data["profile"]["availability"] == [{"day": "tue", "start": "17:30", "end": "19:00"}]
    assert data["profile"]["capacity"] == 3
    # A changed grid replaces the times.
    changed = await registry.client.post(
        "/volunteer/profile/edit",
        data=volunteer_form(
            csrf_of(edit), consent=None, slot=["wed-10"], slots_before=values["slots_before"],
            availability_before=html.unescape(values["availability_before"]),
        ),
    )  # fmt: skip
    assert changed.status_code == 303
    data = json.loads((await registry.client.get("/volunteer/profile/data.json")).text)
    assert data["profile"]["availability"] == [{"day": "wed", "start": "10:00", "end": "11:00"}]


async def test_a_malformed_page_address_is_a_page_not_json(registry: Registry) -> None:
    desk = await desk_session(registry)
    for path in ("/desk/requests/not-an-id", "/desk/requests?offset=many"):
        answer = await desk.get(path)
        assert answer.status_code == 404 and "<html" in answer.text, path
    api = await registry.client.get("/v1/requests/not-an-id", headers={"Authorization": "Bearer x"})
    assert api.status_code in (401, 422) and api.headers["content-type"] == "application/json"
    await desk.aclose()
