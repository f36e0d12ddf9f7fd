"""The small confirmation pages behind the accept and decline links.

GET only shows the question, so a mail client that previews a link decides nothing; the
volunteer's POST decides. Pages speak the volunteer's language unless the reader picks
another with the switcher.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.registry import domain
from services.registry.entrypoints import presenters
from services.registry.entrypoints.dependencies import Settings, UoW, WebPage
from services.registry.entrypoints.web import security
from services.registry.entrypoints.web.i18n import N_
from services.registry.entrypoints.web.render import Web
from services.registry.usecases import offers
from services.registry.usecases.offers import Offer

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


def _action(text: str) -> domain.Action:
    action = domain.parse_action(text)
    if action is None:
        raise domain.NotFound("no such page")
    return action


def _show(
    web: Web,
    action: domain.Action,
    offer: Offer | None,
    *,
    status_code: int = 200,
    token: str = "",
    message: str | None = None,
    failed: bool = False,
) -> HTMLResponse:
    """The question about the offer, or what became of the answer (``message``), in the
    volunteer's language unless the reader picked another."""
    known = offer.volunteer.locale if offer and offer.volunteer else None
    w = web.words(known)
    return web.page(
        "web/offer.html",
        status_code,
        known_locale=known,
        title=w._(TITLES[action]),
        question=w._(QUESTIONS[action]),
        button=w._(BUTTONS[action]),
        action=action,
        match_id=offer.match.id if offer else None,
        offer_request=presenters.request(offer.request) if offer and offer.request else None,
        token=token,
        message=w._(message) if message else None,
        failed=failed,
    )


@router.get("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def confirm_page(
    match_id: uuid.UUID,
    action: str,
    web: WebPage,
    uow: UoW,
    settings: Settings,
    token: Annotated[str, Query()] = "",
) -> HTMLResponse:
    chosen = _action(action)
    offer = await offers.find_offer(uow, match_id)
    if offer is None or not domain.link_is_valid(
        settings.link_secret, token, match_id, chosen, datetime.now(UTC)
    ):
        return _show(web, chosen, offer, status_code=404, message=INVALID, failed=True)
    return _show(web, chosen, offer, token=token)


@router.get("/o/{code}", response_class=HTMLResponse)
async def short_link(code: str, web: WebPage, uow: UoW, settings: Settings) -> HTMLResponse:
    """The short link from an SMS: the same confirmation page as the long one."""
    named = domain.read_short_code(code)
    offer = await offers.find_offer(uow, named[0]) if named else None
    secret = settings.link_secret
    now = datetime.now(UTC)
    if (
        named is None
        or offer is None
        or not domain.short_code_is_valid(
            secret, code, offer.match.id, named[1], offer.match.respond_by, now
        )
    ):
        return _show(web, domain.ACCEPT, offer, status_code=404, message=INVALID, failed=True)
    action = named[1]
    # The form posts to the offer's long address, which checks the full token.
    token = domain.sign_link(secret, offer.match.id, action, offer.match.respond_by)
    return _show(web, action, offer, token=token)


@router.post("/offers/{match_id}/{action}", response_class=HTMLResponse)
async def decide(
    match_id: uuid.UUID,
    action: str,
    web: WebPage,
    uow: UoW,
    settings: Settings,
    form: security.CheckedForm,
) -> HTMLResponse:
    chosen = _action(action)
    token = (form.get("token") or [""])[0]
    # Read first: the answer is shown in the volunteer's language, whatever it is.
    offer = await offers.find_offer(uow, match_id)
    credential = offers.LinkToken(token)
    try:
        await offers.respond(uow, match_id, chosen, credential, link_secret=settings.link_secret)
    except (domain.NotFound, domain.Unauthorised):
        return _show(web, chosen, offer, status_code=404, message=INVALID, failed=True)
    except domain.InvalidTransition:
        return _show(web, chosen, offer, status_code=409, message=TOO_LATE, failed=True)
    return _show(web, chosen, offer, message=DONE[chosen])
