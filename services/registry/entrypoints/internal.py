"""Internal HTTP for the notifier: who to tell, in which language, and how to reach them.

Contact details are looked up at send time (never carried in events), so an erasure takes
effect at once. Authenticated with the service token; not part of the public API.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.registry import domain
from services.registry.adapters.orm import Match, Organisation, SupportRequest, Volunteer
from services.registry.entrypoints.api import Credentials, bearer_token
from services.registry.errors import NotFound, Unauthorised


def require_service(request: Request, credentials: Credentials) -> None:
    expected: str = request.app.state.settings.service_token
    if not hmac.compare_digest(bearer_token(credentials).encode(), expected.encode()):
        raise Unauthorised("wrong service token")


# 9999-12-31T23:59:59Z, the last instant a datetime holds.
MAX_TIMESTAMP = 253_402_300_799

router = APIRouter(
    prefix="/internal/v1", include_in_schema=False, dependencies=[Depends(require_service)]
)


def _volunteer(v: Volunteer | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "id": str(v.id),
        "first_name": domain.first_name(v.name),
        "email": v.email,
        "phone": v.phone,
        "locale": v.locale,
        "timezone": v.timezone,
        "channels": v.channels,
        "erased": v.erased_at is not None,
    }


def _request(r: SupportRequest) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "reference": str(r.id)[:8],
        "status": r.status,
        "skills": r.skills,
        "languages": r.languages,
        "urgency": r.urgency,
        "needed_by": r.needed_by.isoformat(),
        "timezone": r.timezone,
        "remote": r.lat is None,
        "beneficiary": {
            "display_name": r.beneficiary_display_name,
            "locale": r.beneficiary_locale,
            "email": r.beneficiary_email if r.contact_consent else None,
            "phone": r.beneficiary_phone if r.contact_consent else None,
            "contact_consent": r.contact_consent,
        },
    }


async def _context(
    request: Request,
    support_request: SupportRequest,
    match: Match | None,
    volunteer: Volunteer | None,
) -> dict[str, Any]:
    async with request.app.state.session_factory() as session:
        org = await session.get(Organisation, support_request.organisation_id)
    assert org is not None
    settings = request.app.state.settings
    match_part = None
    if match is not None:
        match_part = {
            "id": str(match.id),
            "status": match.status,
            "respond_by": match.respond_by.isoformat(),
            "reasons": match.reasons,
        }
        if match.status == "proposed":
            base = settings.public_base_url.rstrip("/")
            for action in (domain.ACCEPT, domain.DECLINE):
                token = domain.sign_link(settings.link_secret, match.id, action, match.respond_by)
                match_part[f"{action}_url"] = f"{base}/offers/{match.id}/{action}?token={token}"
                code = domain.short_code(settings.link_secret, match.id, action, match.respond_by)
                match_part[f"{action}_short_url"] = f"{base}/o/{code}"
    return {
        "request": _request(support_request),
        "organisation": {
            "id": str(org.id),
            "name": org.name,
            "email": org.email,
            "locale": org.locale,
        },
        "volunteer": _volunteer(volunteer),
        "match": match_part,
    }


@router.get("/matches/{match_id}")
async def match_context(match_id: uuid.UUID, request: Request) -> dict[str, Any]:
    async with request.app.state.session_factory() as session:
        match = await session.get(Match, match_id)
        if match is None:
            raise NotFound("match not found")
        support_request = await session.get(SupportRequest, match.request_id)
        volunteer = await session.get(Volunteer, match.volunteer_id)
    assert support_request is not None
    return await _context(request, support_request, match, volunteer)


@router.get("/requests/{request_id}")
async def request_context(
    request_id: uuid.UUID, request: Request, volunteer_id: Annotated[uuid.UUID | None, None] = None
) -> dict[str, Any]:
    async with request.app.state.session_factory() as session:
        support_request = await session.get(SupportRequest, request_id)
        if support_request is None:
            raise NotFound("request not found")
        volunteer = await session.get(Volunteer, volunteer_id) if volunteer_id else None
    return await _context(request, support_request, None, volunteer)


@router.get("/volunteers/{volunteer_id}/sign-in")
async def sign_in_context(
    volunteer_id: uuid.UUID,
    request: Request,
    expires: Annotated[
        int, Query(ge=0, le=MAX_TIMESTAMP, description="when the link expires, Unix seconds")
    ],
) -> dict[str, Any]:
    """Who to email a sign-in link to, and the link, signed now: no stream ever holds it."""
    async with request.app.state.session_factory() as session:
        volunteer = await session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound("volunteer not found")
    url = None
    if volunteer.erased_at is None:
        settings = request.app.state.settings
        url = domain.sign_in_url(
            settings.public_base_url,
            settings.link_secret,
            volunteer.id,
            datetime.fromtimestamp(expires, UTC),
        )
    return {"volunteer": _volunteer(volunteer), "sign_in_url": url}
