"""The organisation's request desk: sign in with the organisation's key, file requests, follow
them, cancel, and mark them completed with feedback. Same rules and same authorisation as
the API: an organisation sees only its own requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.registry import domain, lifecycle, service
from services.registry.adapters.orm import Organisation
from services.registry.entrypoints.schemas import CompleteIn, RequestIn
from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.render import page, reader_words, redirect
from services.registry.errors import NotFound, Unauthorised

router = APIRouter(prefix="/desk", include_in_schema=False)

SIGN_IN = "/desk/sign-in"
REQUESTS = "/desk/requests"
PAGE_SIZE = 25
FILTERS: tuple[str, ...] = (
    "open",
    "proposed",
    "accepted",
    "unmatched",
    "completed",
    "cancelled",
    "expired",
)


async def _organisation(request: Request) -> Organisation | None:
    found = security.current_session(request, security.ORGANISATION)
    if found is None:
        return None
    async with request.app.state.session_factory() as session:
        org: Organisation | None = await session.get(Organisation, found.subject_id)
        return org


# --- signing in -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def desk_home(request: Request) -> Response:
    return redirect(REQUESTS if await _organisation(request) else SIGN_IN)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    return page(request, "web/desk_sign_in.html", error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, form: security.CheckedForm) -> Response:
    try:
        async with request.app.state.session_factory() as session:
            org = await service.organisation_for_key(session, forms.one(form, "api_key"))
    except Unauthorised:
        error = reader_words(request)._("This key is not valid. Ask your operator for the key.")
        return page(request, "web/desk_sign_in.html", 401, error=error)
    response = redirect(REQUESTS)
    security.open_session(request, response, security.ORGANISATION, org.id)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, form: security.CheckedForm) -> Response:
    response = redirect(SIGN_IN)
    security.close_session(request, response)
    return response


# --- requests -------------------------------------------------------------------------------


@router.get("/requests", response_class=HTMLResponse)
async def requests_page(request: Request, status: str = "", offset: int = 0) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    chosen = status if status in FILTERS else None
    offset = max(offset, 0)
    views, total = await service.list_requests(
        request.app.state.uow_factory(), org, chosen, PAGE_SIZE, offset
    )
    return page(
        request,
        "web/desk_requests.html",
        org=org,
        views=views,
        total=total,
        status=chosen or "",
        filters=FILTERS,
        offset=offset,
        page_size=PAGE_SIZE,
    )


def _blank_request(today: date) -> dict[str, list[str]]:
    return {
        "urgency": ["normal"],
        "timezone": ["auto"],
        "needed_by": [(today + timedelta(days=14)).isoformat()],
        "idempotency_key": [str(uuid.uuid4())],
    }


@router.get("/requests/new", response_class=HTMLResponse)
async def new_request_page(request: Request) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    values = _blank_request(datetime.now(UTC).date())
    return page(
        request, "web/desk_new_request.html", org=org, values=values, errors={}, candidates=[]
    )


@router.post("/requests/new", response_class=HTMLResponse)
async def new_request(request: Request, form: security.CheckedForm) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    w = reader_words(request)
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
        return page(
            request,
            "web/desk_new_request.html",
            422,
            org=org,
            values=form,
            errors=errors,
            candidates=parsed.place.candidates,
        )
    submitted = await service.submit_request(
        request.app.state.uow_factory(), org, body, forms.idempotency_key(form)
    )
    return redirect(f"{REQUESTS}/{submitted.request.id}?done=submitted")


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(request_id: uuid.UUID, request: Request) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    view = await service.get_request(request.app.state.uow_factory(), org, request_id)
    return page(
        request,
        "web/desk_request.html",
        org=org,
        view=view,
        active=view.active,
        first_name=domain.first_name,
        notice=request.query_params.get("done", ""),
        error=None,
    )


@router.post("/requests/{request_id}/cancel")
async def cancel(request_id: uuid.UUID, request: Request, form: security.CheckedForm) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    try:
        await service.cancel_request(request.app.state.uow_factory(), org, request_id)
    except domain.InvalidTransition:
        return redirect(f"{REQUESTS}/{request_id}?done=not-now")
    return redirect(f"{REQUESTS}/{request_id}?done=cancelled")


@router.post("/requests/{request_id}/complete", response_class=HTMLResponse)
async def complete(request_id: uuid.UUID, request: Request, form: security.CheckedForm) -> Response:
    org = await _organisation(request)
    if org is None:
        return redirect(SIGN_IN)
    view = await service.get_request(request.app.state.uow_factory(), org, request_id)
    w = reader_words(request)
    try:
        feedback = CompleteIn.model_validate(
            {"rating": forms.one(form, "rating"), "comment": forms.one(form, "comment")}
        )
    except ValidationError:
        return page(
            request,
            "web/desk_request.html",
            422,
            org=org,
            view=view,
            active=view.active,
            first_name=domain.first_name,
            notice="",
            error=w._("Please choose a rating from 1 to 5."),
        )
    if view.active is None:
        return redirect(f"{REQUESTS}/{request_id}?done=not-now")
    try:
        await lifecycle.complete(
            request.app.state.uow_factory(),
            org,
            view.active[0].id,
            feedback.rating,
            feedback.comment,
        )
    except (domain.InvalidTransition, NotFound):
        return redirect(f"{REQUESTS}/{request_id}?done=not-now")
    return redirect(f"{REQUESTS}/{request_id}?done=completed")
