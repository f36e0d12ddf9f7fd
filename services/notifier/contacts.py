"""Contact details, locale and time zone, looked up in the registry at send time."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.notifier.channels import Transient


class NotYetRecorded(Transient):
    """The registry does not know the offer yet: the two services read the same event."""


class RegistryContacts:
    def __init__(self, base_url: str, service_token: str, timeout: float = 10.0) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=timeout,
        )

    async def look_up(
        self, request_id: uuid.UUID, match_id: uuid.UUID | None, volunteer_id: uuid.UUID | None
    ) -> dict[str, Any]:
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
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self.client.aclose()
