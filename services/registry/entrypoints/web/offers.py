"""The small confirmation pages behind the accept and decline links.

GET only shows the question, so a mail client that previews a link decides nothing; the
volunteer's POST decides. Pages speak the volunteer's language unless the reader picks
another with the switcher.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.registry import domain, lifecycle
from services.registry.adapters.orm import Match, SupportRequest, Volunteer
from services.registry.entrypoints.web import security
from services.registry.entrypoints.web.i18n import N_
from services.registry.entrypoints.web.render import page, reader_words
from services.registry.errors import NotFound, Unauthorised

router = APIRouter(include_in_schema=False)

TITLES = {
    domain.ACCEPT: N_("Accept this request for help?"),
    domain.DECLINE: N_("Decline this request for help?"),
}
QUESTIONS = {
    domain.ACCEPT: N_(
        "Please confirm that you can help. The organisation will then get your first name "
        "and contact details."
    ),
    domain.DECLINE: N_("Please confirm that you cannot help this time. We will ask someone else."),
}
BUTTONS = {domain.ACCEPT: N_("Yes, I will help"), domain.DECLINE: N_("No, not this time")}
DONE = {
    domain.ACCEPT: N_("Thank you! The organisation will contact you soon."),
    domain.DECLINE: N_("Thank you for letting us know. We will ask another volunteer."),
}
INVALID = N_("This link is not valid.")
TOO_LATE = N_("This offer cannot be answered any more.")


async def _offer(
    request: Request, match_id: uuid.UUID
) -> tuple[Match | None, SupportRequest | None, Volunteer | None]:
    async with request.app.state.session_factory() as session:
        match = await session.get(Match, match_id)
        if match is None:
            return None, None, None
        return (
            match,
            await session.get(SupportRequest, match.request_id),
            await session.get(Volunteer, match.volunteer_id),
        )


def _check_action(action: str) -> None:
    if action not in (domain.ACCEPT, domain.DECLINE):
        raise NotFound("no such page")


def _show(
    request: Request,
    action: str,
    volunteer: Volunteer | None,
    *,
    status_code: int = 200,
    match_id: uuid.UUID | None = None,
    support_request: SupportRequest | None = None,
    token: str = "",
    message: str | None = None,
    failed: bool = False,
) -> HTMLResponse:
    known = volunteer.locale if volunteer else None
    w = reader_words(request, known)
    return page(
        request,
        "web/offer.html",
        status_code,
        known_locale=known,
        title=w._(TITLES[action]),
        question=w._(QUESTIONS[action]),
        button=w._(BUTTONS[action]),
        action=action,
        match_id=match_id,
        offer_request=support_request,
        token=token,
        message=w._(message) if message else None,
        failed=failed,
    )


@router.get("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def confirm_page(
    match_id: uuid.UUID, action: str, request: Request, token: Annotated[str, Query()] = ""
) -> HTMLResponse:
    _check_action(action)
    match, support_request, volunteer = await _offer(request, match_id)
    secret = request.app.state.settings.link_secret
    if match is None or not domain.link_is_valid(
        secret, token, match_id, action, datetime.now(UTC)
    ):
        return _show(request, action, volunteer, status_code=404, message=INVALID, failed=True)
    return _show(
        request, action, volunteer, match_id=match_id, support_request=support_request, token=token
    )


@router.get("/o/{code}", response_class=HTMLResponse)
async def short_link(code: str, request: Request) -> HTMLResponse:
    """The short link from an SMS: the same confirmation page as the long one."""
    named = domain.read_short_code(code)
    match, support_request, volunteer = (
        await _offer(request, named[0]) if named else (None, None, None)
    )
    secret = request.app.state.settings.link_secret
    now = datetime.now(UTC)
    if (
        named is None
        or match is None
        or not domain.short_code_is_valid(secret, code, match.id, named[1], match.respond_by, now)
    ):
        return _show(request, "accept", volunteer, status_code=404, message=INVALID, failed=True)
    action = named[1]
    # The form posts to the offer's long address, which checks the full token.
    token = domain.sign_link(secret, match.id, action, match.respond_by)
    return _show(
        request, action, volunteer, match_id=match.id, support_request=support_request, token=token
    )


@router.post("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def decide(
    match_id: uuid.UUID, action: str, request: Request, form: security.CheckedForm
) -> HTMLResponse:
    _check_action(action)
    token = (form.get("token") or [""])[0]
    _, _, volunteer = await _offer(request, match_id)
    try:
        await lifecycle.respond(
            request.app.state.uow_factory(),
            match_id,
            action,
            link_secret=request.app.state.settings.link_secret,
            link_token=token,
        )
    except (NotFound, Unauthorised):
        return _show(request, action, volunteer, status_code=404, message=INVALID, failed=True)
    except domain.InvalidTransition:
        return _show(request, action, volunteer, status_code=409, message=TOO_LATE, failed=True)
    return _show(request, action, volunteer, message=DONE[action])
