"""Sample bodies and secrets shared by the tests."""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from typing import Any

import httpx

from services.registry.entrypoints.schemas import VOLUNTEER_EXAMPLE

ADMIN_KEY = "admin-key-for-tests-only-0123456789"
SECRET = "secret-for-tests-only-0123456789"


def volunteer_body(**changes: Any) -> dict[str, Any]:
    """The API's own example volunteer, who helps only in person and keeps the default
    channels."""
    body: dict[str, Any] = copy.deepcopy(VOLUNTEER_EXAMPLE)
    del body["channels"]
    body.update(email="olena.kovalenko@example.org", remote_ok=False)
    body.update(copy.deepcopy(changes))
    return body


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "beneficiary": {"display_name": "Mariam", "locale": "uk", "contact_consent": True},
        "languages": ["uk"],
        "skills": ["paperwork"],
        "location": {"lat": 52.55, "lon": 19.70},
        "remote_ok": False,
        "windows": [{"day": "tue", "start": "16:00", "end": "19:00"}],
        "timezone": "Europe/Warsaw",
        "urgency": "normal",
        "needed_by": (date.today() + timedelta(days=30)).isoformat(),
        "description": "Help to fill in the residence permit form.",
    }
    body.update(copy.deepcopy(changes))
    return body


def form_token(page_html: str) -> str:
    """The CSRF token a page's form carries (the browser's cookie holds the same value)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def answer_offer(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a volunteer's browser does with an offer's link: open the page, press the button."""
    page = await client.get(link)
    token = link.split("token=")[1]
    return await client.post(
        link.split("?")[0], data={"token": token, "csrf_token": form_token(page.text)}
    )
