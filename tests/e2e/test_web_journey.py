"""The whole journey through the web pages in a real browser (Debian's Chromium, Playwright):
a volunteer signs up in Ukrainian on a phone, a staff member files a request in Polish, the
volunteer opens the link from the email and accepts, the staff member sees the acceptance.
Screenshots of every page go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import create_async_engine

from involvim.local import LocalStack
from services.registry.entrypoints.web.i18n import words
from shared.vocabulary import DAYS
from tests.browser import DESKTOP, PHONE, PageFactory, Screenshots, check_labels, check_readable
from tests.e2e.conftest import running_system
from tests.e2e.test_journey import body_of, link
from tests.servers import MailServer

VOLUNTEER_EMAIL = "olena.web@example.org"


class System:
    def __init__(self, stack: LocalStack, mail: MailServer, api: httpx.AsyncClient, key: str):
        self.stack, self.mail, self.api, self.org_key = stack, mail, api, key
        self.url = stack.env["REGISTRY_URL"]

    async def mail_with(self, address: str, text: str, skip: int = 0, timeout: float = 45) -> Any:
        """The ``skip``-th message to ``address`` whose text holds ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mail.messages if m["To"] == address and text in body_of(m)]
            if len(found) > skip:
                return found[skip]
            assert time.monotonic() < deadline, f"no message to {address} with {text!r}"
            await asyncio.sleep(0.2)

    async def count(self, table: str) -> int:
        engine = create_async_engine(self.stack.env["DATABASE_URL"])
        async with engine.connect() as conn:
            found = await conn.scalar(sa.text(f"SELECT count(*) FROM registry.{table}"))
        await engine.dispose()
        return int(found or 0)


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    async with running_system(tmp_path_factory.mktemp("web") / ".data") as (stack, mail, _, api):
        org = await api.post(
            "/v1/organisations",
            json={"name": "Fundacja Rodzinna Płock", "email": "biuro@example.org", "locale": "pl"},
            headers={"Authorization": f"Bearer {stack.env['ADMIN_API_KEY']}"},
        )
        assert org.status_code == 201, org.text
        yield System(stack, mail, api, org.json()["api_key"])


async def tick_hours(page: Page, day: str, hours: range) -> None:
    for hour in hours:
        await page.check(f"#slot-{day}-{hour:02}")


async def tab_to(page: Page, element_id: str, presses: int = 40) -> None:
    """Press Tab until the field has the focus, as a keyboard user would."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


async def fill_volunteer(page: Page) -> None:
    await page.fill("#name", "Olena Kovalenko")
    await page.fill("#email", VOLUNTEER_EMAIL)
    await page.fill("#phone", "+48601234567")
    await page.select_option("#lang_code_1", "pl")
    await page.select_option("#lang_level_1", "fluent")
    await page.check("#skills-paperwork")
    await page.check("#skills-translation")
    await page.fill("#place_query", "Płock")
    await page.fill("#max_travel_km", "15")
    for day in DAYS[:5]:
        await tick_hours(page, day, range(16, 21))
    await page.fill("#capacity", "2")
    await page.check("#consent")


async def test_sign_up_request_offer_accept_in_a_real_browser(
    system: System, new_page: PageFactory, shots: Screenshots
) -> None:
    # A volunteer signs up in Ukrainian, on a phone.
    volunteer = await new_page(locale="uk-UA", viewport=PHONE)
    await volunteer.goto(f"{system.url}/volunteer/sign-up")
    assert await volunteer.locator("html").get_attribute("lang") == "uk"
    await expect(volunteer.locator("h1")).to_have_text("Стати волонтером")
    await check_labels(volunteer)
    await check_readable(volunteer)
    await shots.take(volunteer, "volunteer-sign-up-uk")
    await fill_volunteer(volunteer)
    await shots.take(volunteer, "volunteer-sign-up-filled")
    await volunteer.click("button[type=submit]")
    await volunteer.wait_for_url("**/volunteer/profile?welcome=1")
    await expect(volunteer.locator("h1")).to_contain_text("Olena")
    await check_readable(volunteer)
    await shots.take(volunteer, "volunteer-profile-new")

    # A staff member files a request in Polish.
    staff = await new_page(locale="pl-PL", viewport=DESKTOP)
    await staff.goto(f"{system.url}/desk")
    assert await staff.locator("html").get_attribute("lang") == "pl"
    await check_labels(staff)
    await shots.take(staff, "desk-sign-in-pl")
    # Signed in with the keyboard alone: Tab to the key field, type, Enter.
    await tab_to(staff, "api_key")
    await staff.keyboard.type(system.org_key)
    await staff.keyboard.press("Enter")
    await staff.wait_for_url("**/desk/requests")
    await staff.click("a[href='/desk/requests/new']")
    await check_labels(staff)
    await check_readable(staff)
    await staff.fill("#beneficiary_name", "Mariam")
    await staff.select_option("#beneficiary_locale", "uk")
    await staff.check("#contact_consent")
    await staff.select_option("#language_0", "uk")
    await staff.check("#skills-paperwork")
    await staff.fill("#description", "Wniosek o kartę pobytu.")
    await staff.select_option("#urgency", "high")
    await staff.fill("#needed_by", (date.today() + timedelta(days=21)).isoformat())
    await staff.fill("#place_query", "Płock")
    await tick_hours(staff, "tue", range(17, 19))
    await tick_hours(staff, "thu", range(17, 19))
    await shots.take(staff, "desk-new-request-filled")
    await staff.click("form[action='/desk/requests/new'] button[type=submit]")
    await staff.wait_for_url("**/desk/requests/*?done=submitted")
    await shots.take(staff, "desk-request-submitted")

    # The volunteer opens the link from the email and accepts.
    offer = await system.mail_with(VOLUNTEER_EMAIL, "/offers/")
    await volunteer.goto(link(body_of(offer), "accept"))
    assert await volunteer.locator("html").get_attribute("lang") == "uk"
    await shots.take(volunteer, "offer-confirm-uk")
    await volunteer.click("form button[type=submit]")
    await expect(volunteer.get_by_role("status")).to_contain_text("Дякуємо")
    await shots.take(volunteer, "offer-accepted-uk")

    # The staff member sees the acceptance, in Polish, with the volunteer's contact.
    deadline = time.monotonic() + 30
    while True:
        await staff.reload()
        status = await staff.locator("#request-status").inner_text()
        if status == words("pl").status("accepted") != "accepted":
            break
        assert time.monotonic() < deadline, f"the desk still shows {status!r}"
        await asyncio.sleep(0.3)
    await expect(staff.locator("main")).to_contain_text(VOLUNTEER_EMAIL)
    await expect(staff.locator("main")).to_contain_text("Olena")
    await check_readable(staff)
    await shots.take(staff, "desk-request-accepted-pl")

    # The help was given: the staff member marks it completed, with a rating.
    await staff.check("#rating-5")
    await staff.fill("#comment", "Wniosek złożony na czas.")
    await staff.click("form[action$='/complete'] button[type=submit]")
    await staff.wait_for_url("**?done=completed")
    status = words("pl").status("completed")
    await expect(staff.locator("#request-status")).to_have_text(status)
    await shots.take(staff, "desk-request-completed-pl")

    # Later, on another device, the volunteer asks for a link to the profile and opens it.
    welcome = await system.mail_with(VOLUNTEER_EMAIL, "/volunteer/enter/")
    assert welcome["Content-Language"] == "uk"
    volunteer = await new_page(locale="uk-UA", viewport=PHONE)
    await volunteer.goto(f"{system.url}/volunteer/sign-in")
    await volunteer.fill("#email", VOLUNTEER_EMAIL)
    await volunteer.click("form button[type=submit]")
    await expect(volunteer.get_by_role("status")).to_contain_text(VOLUNTEER_EMAIL)
    await shots.take(volunteer, "volunteer-sign-in-sent")
    asked = await system.mail_with(VOLUNTEER_EMAIL, "/volunteer/enter/", skip=1)
    entry = re.search(r"https?://\S+/volunteer/enter/\S+", body_of(asked))
    assert entry, body_of(asked)
    await volunteer.goto(entry.group(0))
    await volunteer.wait_for_url("**/volunteer/profile")
    # The profile shows the offer among the past ones, completed, with no buttons any more.
    past = volunteer.locator("section[aria-labelledby=offers-past] table")
    await expect(past).to_contain_text(words("uk").status("completed"))
    await expect(
        volunteer.get_by_role("button", name=words("uk")._("Yes, I will help"))
    ).to_have_count(0)
    await shots.take(volunteer, "volunteer-profile-with-offer")


async def test_bad_values_are_shown_next_to_the_fields_and_nothing_is_stored(
    system: System, new_page: PageFactory, shots: Screenshots
) -> None:
    before = {table: await system.count(table) for table in ("volunteers", "outbox")}
    page = await new_page(locale="pl-PL", viewport=PHONE)
    await page.goto(f"{system.url}/volunteer/sign-up")
    await page.fill("#name", "Jan")
    await page.fill("#email", "not-an-address")
    await page.fill("#phone", "12345")
    await page.fill("#capacity", "0")
    await page.click("button[type=submit]")
    await expect(page.locator("#error-summary")).to_be_visible()
    for field in ("email", "phone", "skills", "availability", "consent", "capacity", "place"):
        await expect(page.locator(f"#{field}-error")).to_be_visible()
    assert await page.locator("#email").get_attribute("aria-invalid") == "true"
    assert await page.input_value("#name") == "Jan"  # what was typed stays
    await shots.take(page, "volunteer-sign-up-errors-pl")
    assert {table: await system.count(table) for table in before} == before
