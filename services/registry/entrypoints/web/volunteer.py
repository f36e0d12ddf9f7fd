"""The volunteer's pages: sign up, open the profile through an emailed link, change it,
pause, answer offers, download the data, delete the account."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.registry import domain, lifecycle, service
from services.registry.adapters.orm import Match, SupportRequest, Volunteer
from services.registry.entrypoints.schemas import VolunteerIn, VolunteerPatch
from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.render import page, reader_words, redirect
from services.registry.errors import NotFound, Unauthorised

router = APIRouter(prefix="/volunteer", include_in_schema=False)

PROFILE = "/volunteer/profile"
SIGN_IN = "/volunteer/sign-in"


def _signed_in(request: Request) -> service.SignedIn | None:
    found = security.current_session(request, security.VOLUNTEER)
    return service.SignedIn(found.subject_id) if found else None


def _values_of(volunteer: Volunteer) -> dict[str, list[str]]:
    """A stored profile as the form's fields, to fill the edit form."""
    values: dict[str, list[str]] = {
        "name": [volunteer.name or ""],
        "email": [volunteer.email or ""],
        "phone": [volunteer.phone or ""],
        "locale": [volunteer.locale],
        "skills": list(volunteer.skills),
        "max_travel_km": [_plain_number(volunteer.max_travel_km)],
        "timezone": [volunteer.timezone],
        "capacity": [str(volunteer.capacity)],
        "channels": list(volunteer.channels),
        "slot": sorted(forms.slots_from_windows(volunteer.availability)),
        "slots_before": [",".join(sorted(forms.slots_from_windows(volunteer.availability)))],
        "availability_before": [json.dumps(volunteer.availability)],
    }
    if volunteer.remote_ok:
        values["remote_ok"] = ["on"]
    if volunteer.lat is not None and volunteer.lon is not None:
        values["lat"], values["lon"] = [str(volunteer.lat)], [str(volunteer.lon)]
    for row, language in enumerate(volunteer.languages[: forms.LANGUAGE_ROWS]):
        values[f"lang_code_{row}"] = [language["code"]]
        values[f"lang_level_{row}"] = [language["level"]]
    return values


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _form_page(
    request: Request,
    template: str,
    values: dict[str, list[str]],
    errors: dict[str, str] | None = None,
    candidates: list[Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return page(
        request,
        template,
        status_code=status_code,
        values=values,
        errors=errors or {},
        candidates=candidates or [],
        **context,
    )


# --- sign-up --------------------------------------------------------------------------------


@router.get("/sign-up", response_class=HTMLResponse)
async def sign_up_page(request: Request) -> HTMLResponse:
    w = reader_words(request)
    values = {
        "locale": [w.locale],
        "channels": ["email"],
        "capacity": ["1"],
        "max_travel_km": ["10"],
        "timezone": ["auto"],
        "lang_code_0": [w.locale],
        "lang_level_0": ["native"],
    }
    return _form_page(request, "web/volunteer_sign_up.html", values)


@router.post("/sign-up", response_class=HTMLResponse)
async def sign_up(request: Request, form: security.CheckedForm) -> Response:
    w = reader_words(request)
    parsed = forms.volunteer_body(form, w.locale, registering=True)
    try:
        body = VolunteerIn.model_validate(parsed.body)
    except ValidationError as exc:
        errors = forms.refusals(exc.errors(), parsed, forms.VOLUNTEER_FIELDS, w)
        return _form_page(
            request, "web/volunteer_sign_up.html", form, errors, parsed.place.candidates, 422
        )
    if parsed.errors:
        errors = forms.refusals([], parsed, forms.VOLUNTEER_FIELDS, w)
        return _form_page(
            request, "web/volunteer_sign_up.html", form, errors, parsed.place.candidates, 422
        )
    volunteer, _ = await service.register_volunteer(request.app.state.uow_factory(), body)
    await service.send_welcome_link(request.app.state.uow_factory(), volunteer.id)
    response = redirect(f"{PROFILE}?welcome=1")
    security.open_session(request, response, security.VOLUNTEER, volunteer.id)
    return response


# --- signing in through an emailed link -----------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    return page(request, "web/volunteer_sign_in.html", email="", sent=False, error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, form: security.CheckedForm) -> HTMLResponse:
    email = forms.one(form, "email")
    if "@" not in email or len(email) > 320:
        w = reader_words(request)
        error = w._("Please enter an email address such as name@example.org.")
        return page(
            request, "web/volunteer_sign_in.html", 422, email=email, sent=False, error=error
        )
    await service.request_sign_in(request.app.state.uow_factory(), email)
    return page(request, "web/volunteer_sign_in.html", email=email, sent=True, error=None)


@router.get("/enter/{volunteer_id}", response_class=HTMLResponse)
async def enter(
    volunteer_id: uuid.UUID, request: Request, expires: int = 0, token: str = ""
) -> Response:
    secret = request.app.state.settings.link_secret
    now = datetime.now(UTC)
    valid = expires > 0 and domain.sign_in_token_is_valid(
        secret, token, volunteer_id, datetime.fromtimestamp(expires, UTC), now
    )
    if valid:
        try:
            await service.get_volunteer(
                request.app.state.uow_factory(), volunteer_id, service.SignedIn(volunteer_id)
            )
        except NotFound:
            valid = False
    if not valid:
        return page(request, "web/volunteer_sign_in.html", 404, email="", sent=False, error=None,
                    expired=True)  # fmt: skip
    response = redirect(PROFILE)
    security.open_session(request, response, security.VOLUNTEER, volunteer_id)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, form: security.CheckedForm) -> Response:
    response = redirect("/")
    security.close_session(request, response)
    return response


# --- the profile ----------------------------------------------------------------------------


async def _me(request: Request) -> Volunteer | None:
    who = _signed_in(request)
    if who is None:
        return None
    try:
        return await service.get_volunteer(request.app.state.uow_factory(), who.volunteer_id, who)
    except NotFound:
        return None


def _offer_rows(offers: list[tuple[Match, SupportRequest]]) -> dict[str, list[dict[str, Any]]]:
    current: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for match, support_request in offers:
        row = {"match": match, "request": support_request}
        (current if match.status in domain.MATCH_ACTIVE else past).append(row)
    return {"current": current, "past": past}


@router.get("/profile", response_class=HTMLResponse)
async def profile(request: Request, welcome: int = 0) -> Response:
    me = await _me(request)
    if me is None:
        return redirect(SIGN_IN)
    offers = await service.volunteer_offers(request.app.state.uow_factory(), me.id)
    return page(
        request,
        "web/volunteer_profile.html",
        me=me,
        offers=_offer_rows(offers),
        welcome=bool(welcome),
        first_name=domain.first_name(me.name),
        notice=request.query_params.get("done", ""),
    )


@router.get("/profile/edit", response_class=HTMLResponse)
async def edit_page(request: Request) -> Response:
    me = await _me(request)
    if me is None:
        return redirect(SIGN_IN)
    return _form_page(request, "web/volunteer_edit.html", _values_of(me))


@router.post("/profile/edit", response_class=HTMLResponse)
async def edit(request: Request, form: security.CheckedForm) -> Response:
    who = _signed_in(request)
    if who is None:
        return redirect(SIGN_IN)
    w = reader_words(request)
    parsed = forms.volunteer_body(form, w.locale, registering=False)
    if not parsed.errors:
        try:
            await service.update_volunteer(
                request.app.state.uow_factory(),
                who.volunteer_id,
                who,
                VolunteerPatch.model_validate(parsed.body),
            )
            return redirect(f"{PROFILE}?done=saved")
        except ValidationError as exc:
            errors = forms.refusals(exc.errors(), parsed, forms.VOLUNTEER_FIELDS, w)
        except NotFound:
            return redirect(SIGN_IN)
    else:
        errors = forms.refusals([], parsed, forms.VOLUNTEER_FIELDS, w)
    return _form_page(
        request, "web/volunteer_edit.html", form, errors, parsed.place.candidates, 422
    )


@router.post("/profile/pause")
async def pause(request: Request, form: security.CheckedForm) -> Response:
    who = _signed_in(request)
    if who is None:
        return redirect(SIGN_IN)
    paused = forms.one(form, "paused") == "1"
    await service.update_volunteer(
        request.app.state.uow_factory(), who.volunteer_id, who, VolunteerPatch(paused=paused)
    )
    return redirect(f"{PROFILE}?done={'paused' if paused else 'resumed'}")


@router.post("/offers/{match_id}/{action}")
async def answer_offer(
    match_id: uuid.UUID, action: str, request: Request, form: security.CheckedForm
) -> Response:
    who = _signed_in(request)
    if who is None:
        return redirect(SIGN_IN)
    if action not in (domain.ACCEPT, domain.DECLINE):
        raise NotFound("no such page")
    offers = await service.volunteer_offers(request.app.state.uow_factory(), who.volunteer_id)
    match = next((m for m, _ in offers if m.id == match_id), None)
    if match is None:  # another volunteer's offer looks exactly like a missing one
        raise NotFound("offer not found")
    secret = request.app.state.settings.link_secret
    try:
        await lifecycle.respond(
            request.app.state.uow_factory(),
            match_id,
            action,
            link_secret=secret,
            link_token=domain.sign_link(secret, match_id, action, match.respond_by),
        )
    except (domain.InvalidTransition, Unauthorised):
        return redirect(f"{PROFILE}?done=too-late")
    return redirect(f"{PROFILE}?done={action}ed")


@router.get("/profile/data.json")
async def download(request: Request) -> Response:
    me = await _me(request)
    if me is None:
        return redirect(SIGN_IN)
    offers = await service.volunteer_offers(request.app.state.uow_factory(), me.id)
    data = {
        "profile": {
            "id": str(me.id),
            "name": me.name,
            "email": me.email,
            "phone": me.phone,
            "locale": me.locale,
            "languages": me.languages,
            "skills": me.skills,
            "location": {"lat": me.lat, "lon": me.lon} if me.lat is not None else None,
            "max_travel_km": me.max_travel_km,
            "remote_ok": me.remote_ok,
            "availability": me.availability,
            "timezone": me.timezone,
            "capacity": me.capacity,
            "channels": me.channels,
            "consent": me.consent,
            "paused": me.paused,
            "created_at": me.created_at.isoformat(),
            "updated_at": me.updated_at.isoformat(),
        },
        "offers": [
            {
                "id": str(match.id),
                "status": match.status,
                "proposed_at": match.proposed_at.isoformat(),
                "responded_at": match.responded_at.isoformat() if match.responded_at else None,
                "skills": support_request.skills,
                "needed_by": support_request.needed_by.isoformat(),
                "reasons": match.reasons,
            }
            for match, support_request in offers
        ],
    }
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="involvim-my-data.json"'},
    )


@router.get("/delete", response_class=HTMLResponse)
async def delete_page(request: Request) -> Response:
    me = await _me(request)
    if me is None:
        return redirect(SIGN_IN)
    return page(request, "web/volunteer_delete.html", deleted=False)


@router.post("/delete", response_class=HTMLResponse)
async def delete(request: Request, form: security.CheckedForm) -> Response:
    who = _signed_in(request)
    if who is None:
        return redirect(SIGN_IN)
    with contextlib.suppress(NotFound):  # already erased: the answer is the same
        await service.erase_volunteer(request.app.state.uow_factory(), who.volunteer_id, who)
    response = page(request, "web/volunteer_delete.html", deleted=True)
    security.close_session(request, response)
    return response
