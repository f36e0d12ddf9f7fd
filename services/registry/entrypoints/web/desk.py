"""The organisation's request desk: sign in with the organisation's key, file requests, follow
them, cancel, and mark them completed with feedback. Same rules and same authorisation as
the API: an organisation sees only its own requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.registry import domain
from services.registry.adapters.orm import Organisation
from services.registry.entrypoints import presenters
from services.registry.entrypoints.dependencies import DeskOrganisation, UoW, WebPage
from services.registry.entrypoints.schemas import CompleteIn, RequestIn
from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.render import Web, redirect
from services.registry.usecases import offers, organisations, requests
from shared.vocabulary import RequestStatus

router = APIRouter(prefix="/desk", include_in_schema=False)

SIGN_IN = "/desk/sign-in"
REQUESTS = "/desk/requests"
PAGE_SIZE = 25
# Every status, in the order the filters show them: the ones still waiting first.
FILTERS: tuple[RequestStatus, ...] = (
    "open",
    "proposed",
    "accepted",
    "unmatched",
    "completed",
    "cancelled",
    "expired",
)


# --- signing in -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def desk_home(org: DeskOrganisation) -> Response:
    return redirect(REQUESTS if org else SIGN_IN)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(web: WebPage) -> HTMLResponse:
    return web.page("web/desk_sign_in.html", error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(web: WebPage, uow: UoW, form: security.CheckedForm) -> Response:
    try:
        org = await organisations.organisation_for_key(uow, forms.one(form, "api_key"))
    except domain.Unauthorised:
        error = web.words()._("This key is not valid. Ask your operator for the key.")
        return web.page("web/desk_sign_in.html", 401, error=error)
    response = redirect(REQUESTS)
    web.open_session(response, security.ORGANISATION, org.id)
    return response


@router.post("/sign-out")
async def sign_out(web: WebPage, form: security.CheckedForm) -> Response:
    response = redirect(SIGN_IN)
    web.close_session(response)
    return response


# --- requests -------------------------------------------------------------------------------


@router.get("/requests", response_class=HTMLResponse)
async def requests_page(
    org: DeskOrganisation, web: WebPage, uow: UoW, status: str = "", offset: int = 0
) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    chosen = next((code for code in FILTERS if code == status), None)
    offset = max(offset, 0)
    views, total = await requests.list_requests(
        uow, org, chosen, PAGE_SIZE, offset, shows_contacts=False
    )
    return web.page(
        "web/desk_requests.html",
        org=org,
        requests=[presenters.request(view.request) for view in views],
        total=total,
        status=chosen or "",
        filters=FILTERS,
        offset=offset,
        page_size=PAGE_SIZE,
    )


def _blank_request(today: date) -> dict[str, list[str]]:
    return {
        "urgency": [forms.DEFAULT_URGENCY],
        "timezone": ["auto"],
        "needed_by": [(today + timedelta(days=14)).isoformat()],
        "idempotency_key": [str(uuid.uuid4())],
    }


@router.get("/requests/new", response_class=HTMLResponse)
async def new_request_page(org: DeskOrganisation, web: WebPage) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    values = _blank_request(datetime.now(UTC).date())
    return web.page("web/desk_new_request.html", org=org, values=values, errors={}, candidates=[])


@router.post("/requests/new", response_class=HTMLResponse)
async def new_request(
    org: DeskOrganisation, web: WebPage, uow: UoW, form: security.CheckedForm
) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    w = web.words()
    parsed = forms.request_body(form, w.locale)
    errors: dict[str, str] = {}
    try:
        body = RequestIn.model_validate(parsed.body)
    except ValidationError as exc:
        errors = forms.refusals(exc.errors(), parsed, forms.REQUEST_FIELDS, w)
    else:
        if parsed.errors and not parsed.body["remote_ok"]:
            errors = forms.refusals([], parsed, forms.REQUEST_FIELDS, w)
    if errors:
        return web.page(
            "web/desk_new_request.html",
            422,
            org=org,
            values=form,
            errors=errors,
            candidates=parsed.place.candidates,
        )
    submitted = await requests.submit_request(
        uow, org, body.new_request(), body.fingerprint(), forms.idempotency_key(form)
    )
    return redirect(f"{REQUESTS}/{submitted.request.id}?done=submitted")


def _request_page(
    web: Web,
    org: Organisation,
    view: requests.RequestView,
    status_code: int = 200,
    notice: str = "",
    error: str | None = None,
) -> HTMLResponse:
    shown: dict[str, Any] = presenters.request_with_offers(view)
    return web.page(
        "web/desk_request.html", status_code, org=org, r=shown, notice=notice, error=error
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(
    request_id: uuid.UUID, org: DeskOrganisation, web: WebPage, uow: UoW, done: str = ""
) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    return _request_page(web, org, await requests.get_request(uow, org, request_id), notice=done)


@router.post("/requests/{request_id}/cancel")
async def cancel(
    request_id: uuid.UUID, org: DeskOrganisation, uow: UoW, form: security.CheckedForm
) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    try:
        await requests.cancel_request(uow, org, request_id)
    except domain.InvalidTransition:
        return redirect(f"{REQUESTS}/{request_id}?done=not-now")
    return redirect(f"{REQUESTS}/{request_id}?done=cancelled")


@router.post("/requests/{request_id}/complete", response_class=HTMLResponse)
async def complete(
    request_id: uuid.UUID,
    org: DeskOrganisation,
    web: WebPage,
    uow: UoW,
    form: security.CheckedForm,
) -> Response:
    if org is None:
        return redirect(SIGN_IN)
    try:
        feedback = CompleteIn.model_validate(
            {"rating": forms.one(form, "rating"), "comment": forms.one(form, "comment")}
        )
    except ValidationError:
        view = await requests.get_request(uow, org, request_id)
        error = web.words()._("Please choose a rating from 1 to 5.")
        return _request_page(web, org, view, 422, error=error)
    try:
        await offers.complete_request(uow, org, request_id, feedback.rating, feedback.comment)
    except domain.InvalidTransition:
        return redirect(f"{REQUESTS}/{request_id}?done=not-now")
    return redirect(f"{REQUESTS}/{request_id}?done=completed")
