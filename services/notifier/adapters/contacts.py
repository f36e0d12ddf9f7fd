"""Contact details, locale and time zone, looked up in the registry at send time, and read
through the internal contact contract (``shared.contacts``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from services.notifier.domain.errors import NotYetRecorded, Transient, UnknownVolunteer
from shared.contacts import RequestContext, SignInContext


class RegistryContacts:
    def __init__(self, base_url: str, service_token: str, timeout: float = 10.0) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=timeout,
        )

    async def look_up(
        self,
        request_id: uuid.UUID | None,
        match_id: uuid.UUID | None,
        volunteer_id: uuid.UUID | None,
    ) -> RequestContext:
        """Who to tell about an offer (by its id) or else a request, and the volunteer's details
        when ``volunteer_id`` is given."""
        if match_id is not None:
            path, params = f"/internal/v1/matches/{match_id}", {}
        else:
            path = f"/internal/v1/requests/{request_id}"
            params = {"volunteer_id": str(volunteer_id)} if volunteer_id else {}
        try:
            response = await self.client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise Transient(f"registry unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            # The registry usually has not recorded the proposal yet: it will in a moment.
            raise NotYetRecorded(f"registry look-up answered {response.status_code}")
        if response.status_code != 200:
            raise Transient(f"registry look-up answered {response.status_code}")
        return RequestContext.model_validate(response.json())

    async def sign_in(self, volunteer_id: uuid.UUID, expires_at: datetime) -> SignInContext:
        """The volunteer's contact details and a sign-in link valid until ``expires_at``,
        signed by the registry now (none once the volunteer is erased)."""
        path = f"/internal/v1/volunteers/{volunteer_id}/sign-in"
        try:
            response = await self.client.get(path, params={"expires": int(expires_at.timestamp())})
        except httpx.HTTPError as exc:
            raise Transient(f"registry unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404 and _detail(response) == "volunteer not found":
            # The event is published only after the volunteer's row was committed, so the
            # volunteer will not appear later. Any other 404 (a registry without this
            # endpoint, during an upgrade) is worth retrying.
            raise UnknownVolunteer("the registry does not know the volunteer")
        if response.status_code != 200:
            raise Transient(f"registry sign-in look-up answered {response.status_code}")
        return SignInContext.model_validate(response.json())

    async def close(self) -> None:
        await self.client.aclose()


def _detail(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None
