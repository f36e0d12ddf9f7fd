"""A person opens an offer link that is not valid (any more) in a real browser."""

from __future__ import annotations

import uuid

from services.registry.entrypoints.web.i18n import words
from tests.browser import PHONE, PageFactory, Screenshots, check_labels
from tests.e2e.conftest import RunningRegistry


async def test_a_bad_offer_link_says_so(
    registry_server: RunningRegistry, new_page: PageFactory, shots: Screenshots
) -> None:
    page = await new_page(locale="uk-UA", viewport=PHONE)

    response = await page.goto(f"{registry_server.url}/offers/{uuid.uuid4()}/accept?token=bad")

    assert response is not None
    assert response.status == 404
    await shots.take(page, "invalid-link")
    await check_labels(page)
    assert await page.get_by_role("status").inner_text() == words("uk")._("This link is not valid.")
    assert words("uk")._("This link is not valid.") != "This link is not valid."
    assert await page.locator("html").get_attribute("lang") == "uk"
