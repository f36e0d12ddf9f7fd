"""Internal HTTP for the notifier: who to tell, in which language, and how to reach them.

Contact details are looked up at send time (never carried in events), so an erasure takes
effect at once. Authenticated with the service token; not part of the public API. The answers
are the contact contract of ``shared.contacts``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.registry import domain
from services.registry.entrypoints import presenters
from services.registry.entrypoints.dependencies import Settings, UoW, require_service
from services.registry.usecases import requests, volunteers
from shared import contacts

# 9999-12-31T23:59:59Z, the last instant a datetime holds.
MAX_TIMESTAMP = 253_402_300_799

router = APIRouter(
    prefix="/internal/v1", include_in_schema=False, dependencies=[Depends(require_service)]
)


def _context(found: requests.Context, settings: Settings) -> contacts.RequestContext:
    match = None
    if found.match is not None:
        shown = presenters.pick(
            presenters.offer(found.match), ("id", "status", "respond_by", "reasons")
        )
        if found.match.status == "proposed":
            shown |= presenters.offer_links(
                found.match, settings.public_base_url, settings.link_secret
            )
        match = contacts.MatchSummary.model_validate(shown)
    return contacts.RequestContext(
        request=contacts.RequestSummary.model_validate(presenters.request_summary(found.request)),
        organisation=contacts.OrganisationContact.model_validate(
            presenters.organisation(found.organisation)
        ),
        volunteer=contacts.VolunteerContact.model_validate(presenters.volunteer(found.volunteer))
        if found.volunteer
        else None,
        match=match,
    )


# The links of an offer that can no longer be answered are left out, not sent as null.
@router.get("/matches/{match_id}", response_model_exclude_unset=True)
async def match_context(
    match_id: uuid.UUID, uow: UoW, settings: Settings
) -> contacts.RequestContext:
    return _context(await requests.offer_context(uow, match_id), settings)


@router.get("/requests/{request_id}", response_model_exclude_unset=True)
async def request_context(
    request_id: uuid.UUID,
    uow: UoW,
    settings: Settings,
    volunteer_id: Annotated[uuid.UUID | None, None] = None,
) -> contacts.RequestContext:
    return _context(await requests.request_context(uow, request_id, volunteer_id), settings)


@router.get("/volunteers/{volunteer_id}/sign-in")
async def sign_in_context(
    volunteer_id: uuid.UUID,
    uow: UoW,
    settings: Settings,
    expires: Annotated[
        int, Query(ge=0, le=MAX_TIMESTAMP, description="when the link expires, Unix seconds")
    ],
) -> contacts.SignInContext:
    """Who to email a sign-in link to, and the link, signed now: no stream ever holds it."""
    volunteer = await volunteers.volunteer_to_contact(uow, volunteer_id)
    url = None
    if volunteer.erased_at is None:
        url = domain.sign_in_url(
            settings.public_base_url,
            settings.link_secret,
            volunteer.id,
            datetime.fromtimestamp(expires, UTC),
        )
    return contacts.SignInContext(
        volunteer=contacts.VolunteerContact.model_validate(presenters.volunteer(volunteer)),
        sign_in_url=url,
    )
