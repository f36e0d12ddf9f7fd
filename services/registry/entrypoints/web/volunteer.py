"""The volunteer's pages: sign up, open the profile through an emailed link, change it,
pause, answer offers, download the data, delete the account."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.registry import domain
from services.registry.adapters.orm import Match, SupportRequest
from services.registry.entrypoints import presenters
from services.registry.entrypoints.dependencies import Me, Settings, SignedInVolunteer, UoW, WebPage
from services.registry.entrypoints.schemas import VolunteerIn, VolunteerPatch
from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.render import Web, redirect
from services.registry.usecases import offers, volunteers
from services.registry.usecases.volunteers import SignedIn
from shared.vocabulary import ACTIVE_MATCH_STATUSES

router = APIRouter(prefix="/volunteer", include_in_schema=False)

PROFILE = "/volunteer/profile"
SIGN_IN = "/volunteer/sign-in"


def _form_page(
    web: Web,
    template: str,
    values: forms.Form,
    errors: dict[str, str] | None = None,
    candidates: list[Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return web.page(
        template,
        status_code=status_code,
        values=values,
        errors=errors or {},
        candidates=candidates or [],
        **context,
    )


# --- sign-up --------------------------------------------------------------------------------


@router.get("/sign-up", response_class=HTMLResponse)
async def sign_up_page(web: WebPage) -> HTMLResponse:
    w = web.words()
    values: dict[str, list[str]] = {
        "locale": [w.locale],
        "channels": [forms.SIGN_UP_CHANNEL],
        "capacity": ["1"],
        "max_travel_km": ["10"],
        "timezone": ["auto"],
        "lang_code_0": [w.locale],
        "lang_level_0": [forms.SIGN_UP_LEVEL],
    }
    return _form_page(web, "web/volunteer_sign_up.html", values)


@router.post("/sign-up", response_class=HTMLResponse)
async def sign_up(web: WebPage, uow: UoW, form: security.CheckedForm) -> Response:
    w = web.words()
    parsed = forms.volunteer_body(form, w.locale, registering=True)
    try:
        body = VolunteerIn.model_validate(parsed.body)
    except ValidationError as exc:
        errors = forms.refusals(exc.errors(), parsed, forms.VOLUNTEER_FIELDS, w)
        return _form_page(
            web, "web/volunteer_sign_up.html", form, errors, parsed.place.candidates, 422
        )
    if parsed.errors:
        errors = forms.refusals([], parsed, forms.VOLUNTEER_FIELDS, w)
        return _form_page(
            web, "web/volunteer_sign_up.html", form, errors, parsed.place.candidates, 422
        )
    volunteer, _ = await volunteers.register_volunteer(uow, body.profile(), welcome=True)
    response = redirect(f"{PROFILE}?welcome=1")
    web.open_session(response, security.VOLUNTEER, volunteer.id)
    return response


# --- signing in through an emailed link -----------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(web: WebPage) -> HTMLResponse:
    return web.page("web/volunteer_sign_in.html", email="", sent=False, error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(web: WebPage, uow: UoW, form: security.CheckedForm) -> HTMLResponse:
    email = forms.one(form, "email")
    if "@" not in email or len(email) > 320:
        error = web.words()._("Please enter an email address such as name@example.org.")
        return web.page("web/volunteer_sign_in.html", 422, email=email, sent=False, error=error)
    await volunteers.request_sign_in(uow, email)
    return web.page("web/volunteer_sign_in.html", email=email, sent=True, error=None)


@router.get("/enter/{volunteer_id}", response_class=HTMLResponse)
async def enter(
    volunteer_id: uuid.UUID,
    web: WebPage,
    uow: UoW,
    settings: Settings,
    expires: int = 0,
    token: str = "",
) -> Response:
    now = datetime.now(UTC)
    valid = expires > 0 and domain.sign_in_token_is_valid(
        settings.link_secret, token, volunteer_id, datetime.fromtimestamp(expires, UTC), now
    )
    if valid and await volunteers.find_signed_in(uow, SignedIn(volunteer_id)) is None:
        valid = False
    if not valid:
        return web.page("web/volunteer_sign_in.html", 404, email="", sent=False, error=None,
                        expired=True)  # fmt: skip
    response = redirect(PROFILE)
    web.open_session(response, security.VOLUNTEER, volunteer_id)
    return response


@router.post("/sign-out")
async def sign_out(web: WebPage, form: security.CheckedForm) -> Response:
    response = redirect("/")
    web.close_session(response)
    return response


# --- the profile ----------------------------------------------------------------------------


def _offer_rows(offered: list[tuple[Match, SupportRequest]]) -> dict[str, list[dict[str, Any]]]:
    current: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for match, support_request in offered:
        row = {"match": presenters.offer(match), "request": presenters.request(support_request)}
        (current if match.status in ACTIVE_MATCH_STATUSES else past).append(row)
    return {"current": current, "past": past}


@router.get("/profile", response_class=HTMLResponse)
async def profile(me: Me, web: WebPage, uow: UoW, welcome: int = 0, done: str = "") -> Response:
    if me is None:
        return redirect(SIGN_IN)
    shown = presenters.volunteer(me)
    return web.page(
        "web/volunteer_profile.html",
        me=shown,
        offers=_offer_rows(await offers.offers_to(uow, me.id)),
        welcome=bool(welcome),
        first_name=shown["first_name"],
        notice=done,
    )


@router.get("/profile/edit", response_class=HTMLResponse)
async def edit_page(me: Me, web: WebPage) -> Response:
    if me is None:
        return redirect(SIGN_IN)
    return _form_page(web, "web/volunteer_edit.html", forms.values_of(presenters.volunteer(me)))


@router.post("/profile/edit", response_class=HTMLResponse)
async def edit(
    who: SignedInVolunteer, web: WebPage, uow: UoW, form: security.CheckedForm
) -> Response:
    if who is None:
        return redirect(SIGN_IN)
    w = web.words()
    parsed = forms.volunteer_body(form, w.locale, registering=False)
    if not parsed.errors:
        try:
            patch = VolunteerPatch.model_validate(parsed.body)
            await volunteers.update_volunteer(uow, who.volunteer_id, who, patch.revise)
            return redirect(f"{PROFILE}?done=saved")
        except ValidationError as exc:
            errors = forms.refusals(exc.errors(), parsed, forms.VOLUNTEER_FIELDS, w)
        except domain.NotFound:
            return redirect(SIGN_IN)
    else:
        errors = forms.refusals([], parsed, forms.VOLUNTEER_FIELDS, w)
    return _form_page(web, "web/volunteer_edit.html", form, errors, parsed.place.candidates, 422)


@router.post("/profile/pause")
async def pause(who: SignedInVolunteer, uow: UoW, form: security.CheckedForm) -> Response:
    if who is None:
        return redirect(SIGN_IN)
    paused = forms.one(form, "paused") == "1"
    await volunteers.update_volunteer(
        uow, who.volunteer_id, who, VolunteerPatch().revise, paused=paused
    )
    return redirect(f"{PROFILE}?done={'paused' if paused else 'resumed'}")


@router.post("/offers/{match_id}/{action}")
async def answer_offer(
    match_id: uuid.UUID,
    action: str,
    who: SignedInVolunteer,
    uow: UoW,
    settings: Settings,
    form: security.CheckedForm,
) -> Response:
    if who is None:
        return redirect(SIGN_IN)
    chosen = domain.parse_action(action)
    if chosen is None:
        raise domain.NotFound("no such page")
    try:
        await offers.respond(uow, match_id, chosen, who, link_secret=settings.link_secret)
    except domain.InvalidTransition:
        return redirect(f"{PROFILE}?done=too-late")
    return redirect(f"{PROFILE}?done={chosen}ed")


@router.get("/profile/data.json")
async def download(me: Me, uow: UoW) -> Response:
    if me is None:
        return redirect(SIGN_IN)
    await volunteers.record_download(uow, me.id)
    data = {
        "profile": presenters.pick(presenters.volunteer(me), presenters.DOWNLOAD_FIELDS),
        "offers": [
            {
                **presenters.pick(offer, ("id", "status", "proposed_at", "responded_at")),
                **presenters.pick(request, ("skills", "needed_by")),
                "reasons": offer["reasons"],
            }
            for offer, request in (
                (presenters.offer(match), presenters.request(support_request))
                for match, support_request in await offers.offers_to(uow, me.id)
            )
        ],
    }
    return Response(
        json.dumps(jsonable_encoder(data), ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="involvim-my-data.json"'},
    )


@router.get("/delete", response_class=HTMLResponse)
async def delete_page(me: Me, web: WebPage) -> Response:
    if me is None:
        return redirect(SIGN_IN)
    return web.page("web/volunteer_delete.html", deleted=False)


@router.post("/delete", response_class=HTMLResponse)
async def delete(
    who: SignedInVolunteer, web: WebPage, uow: UoW, form: security.CheckedForm
) -> Response:
    if who is None:
        return redirect(SIGN_IN)
    with contextlib.suppress(domain.NotFound):  # already erased: the answer is the same
        await volunteers.erase_volunteer(uow, who.volunteer_id, who)
    response = web.page("web/volunteer_delete.html", deleted=True)
    web.close_session(response)
    return response
