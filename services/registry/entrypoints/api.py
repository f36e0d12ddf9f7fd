"""Thin HTTP routes: parse, call one use case, shape the answer."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from services.registry import domain, lifecycle, service
from services.registry.adapters.orm import Organisation, Volunteer
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.entrypoints.schemas import (
    BeneficiaryOut,
    CompleteIn,
    ErrorBody,
    LocationIn,
    MatchAnswer,
    MatchOut,
    OrganisationCreated,
    OrganisationIn,
    RequestIn,
    RequestOut,
    RequestPage,
    RespondIn,
    SkillOut,
    StatusFilter,
    VolunteerCreated,
    VolunteerIn,
    VolunteerOut,
    VolunteerPatch,
)
from services.registry.errors import Conflict, NotFound, Unauthorised
from services.registry.service import RequestView
from shared.skills import SKILL_LABELS

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong key"},
    404: {"model": ErrorBody, "description": "Not found (or not yours)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "A field breaks a rule: the field and the reason"},
}

router = APIRouter(prefix="/v1", responses=ERRORS)


def uow(request: Request) -> UnitOfWork:
    new_uow: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return new_uow()


UoW = Annotated[UnitOfWork, Depends(uow)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorised("an Authorization: Bearer key is needed")
    return credentials.credentials


def require_admin(request: Request, credentials: Credentials) -> None:
    expected: str = request.app.state.settings.admin_api_key
    if not hmac.compare_digest(bearer_token(credentials).encode(), expected.encode()):
        raise Unauthorised("wrong operator key")


async def current_organisation(request: Request, credentials: Credentials) -> Organisation:
    async with request.app.state.session_factory() as session:
        return await service.organisation_for_key(session, bearer_token(credentials))


CurrentOrganisation = Annotated[Organisation, Depends(current_organisation)]


# --- shaping answers ------------------------------------------------------------------------


def volunteer_out(v: Volunteer) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "email": v.email,
        "phone": v.phone,
        "locale": v.locale,
        "languages": v.languages,
        "skills": v.skills,
        "location": LocationIn(lat=v.lat, lon=v.lon)
        if v.lat is not None and v.lon is not None
        else None,
        "max_travel_km": v.max_travel_km,
        "remote_ok": v.remote_ok,
        "availability": v.availability,
        "timezone": v.timezone,
        "capacity": v.capacity,
        "channels": v.channels,
        "consent": v.consent,
        "paused": v.paused,
        "created_at": v.created_at,
    }


def match_out(view: RequestView) -> MatchOut | None:
    if view.active is None:
        return None
    match, volunteer = view.active
    contact = None
    if match.status == "accepted":
        contact = {k: v for k, v in (("email", volunteer.email), ("phone", volunteer.phone)) if v}
    return MatchOut(
        id=match.id,
        status=match.status,
        volunteer_first_name=domain.first_name(volunteer.name),
        score=match.score,
        breakdown=match.breakdown,
        reasons=match.reasons,
        respond_by=match.respond_by,
        volunteer_contact=contact,
    )


def request_out(view: RequestView) -> RequestOut:
    r = view.request
    return RequestOut(
        id=r.id,
        status=r.status,
        beneficiary=BeneficiaryOut(
            display_name=r.beneficiary_display_name,
            locale=r.beneficiary_locale,
            email=r.beneficiary_email,
            phone=r.beneficiary_phone,
            contact_consent=r.contact_consent,
        ),
        languages=r.languages,
        skills=r.skills,
        location=LocationIn(lat=r.lat, lon=r.lon)
        if r.lat is not None and r.lon is not None
        else None,
        remote_ok=r.remote_ok,
        windows=r.windows,
        timezone=r.timezone,
        urgency=r.urgency,
        needed_by=r.needed_by,
        description=r.description,
        unmatched_reasons=r.unmatched_reasons,
        match=match_out(view),
        offers=lifecycle.offer_history(view.offers),
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


# --- routes ---------------------------------------------------------------------------------


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
    summary="Create an organisation (operator only); its API key is shown once",
)
async def create_organisation(body: OrganisationIn, uow: UoW) -> OrganisationCreated:
    org, api_key = await service.create_organisation(uow, body.name, str(body.email), body.locale)
    return OrganisationCreated(
        id=org.id, name=org.name, email=org.email, locale=org.locale, api_key=api_key
    )


@router.get("/skills", summary="The skill taxonomy with labels in every supported locale")
async def list_skills() -> list[SkillOut]:
    return [SkillOut(code=code, labels=labels) for code, labels in SKILL_LABELS.items()]


@router.post("/volunteers", status_code=status.HTTP_201_CREATED, summary="Register as a volunteer")
async def register_volunteer(body: VolunteerIn, uow: UoW) -> VolunteerCreated:
    volunteer, token = await service.register_volunteer(uow, body)
    return VolunteerCreated(**volunteer_out(volunteer), manage_token=token)


@router.get("/volunteers/{volunteer_id}", summary="Your own profile (manage token)")
async def get_volunteer(
    volunteer_id: uuid.UUID, uow: UoW, credentials: Credentials
) -> VolunteerOut:
    volunteer = await service.get_volunteer(uow, volunteer_id, bearer_token(credentials))
    return VolunteerOut(**volunteer_out(volunteer))


@router.patch("/volunteers/{volunteer_id}", summary="Change your profile or pause (manage token)")
async def update_volunteer(
    volunteer_id: uuid.UUID, body: VolunteerPatch, uow: UoW, credentials: Credentials
) -> VolunteerOut:
    volunteer = await service.update_volunteer(uow, volunteer_id, bearer_token(credentials), body)
    return VolunteerOut(**volunteer_out(volunteer))


@router.delete(
    "/volunteers/{volunteer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase your personal data (manage token)",
)
async def erase_volunteer(volunteer_id: uuid.UUID, uow: UoW, credentials: Credentials) -> Response:
    await service.erase_volunteer(uow, volunteer_id, bearer_token(credentials))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a support request; a retried Idempotency-Key returns the same request",
)
async def submit_request(
    body: RequestIn,
    org: CurrentOrganisation,
    uow: UoW,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RequestOut:
    submitted = await service.submit_request(uow, org, body, idempotency_key)
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return request_out(RequestView(submitted.request, []))


@router.get("/requests", summary="Your organisation's requests, newest first")
async def list_requests(
    org: CurrentOrganisation,
    uow: UoW,
    status_: Annotated[StatusFilter | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestPage:
    rows, total = await service.list_requests(uow, org, status_, limit, offset)
    return RequestPage(
        items=[request_out(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/requests/{request_id}", summary="One of your organisation's requests")
async def get_request(request_id: uuid.UUID, org: CurrentOrganisation, uow: UoW) -> RequestOut:
    return request_out(await service.get_request(uow, org, request_id))


@router.post("/requests/{request_id}/cancel", summary="Cancel a request before it is completed")
async def cancel_request(request_id: uuid.UUID, org: CurrentOrganisation, uow: UoW) -> RequestOut:
    return request_out(await service.cancel_request(uow, org, request_id))


@router.post(
    "/matches/{match_id}/accept", summary="Accept an offer (signed link token or manage token)"
)
async def accept_offer(
    match_id: uuid.UUID,
    request: Request,
    uow: UoW,
    credentials: Credentials,
    body: RespondIn | None = None,
    token: Annotated[str | None, Query(description="The signed token from the link")] = None,
) -> MatchAnswer:
    return await _respond(request, uow, match_id, domain.ACCEPT, credentials, body, token)


@router.post(
    "/matches/{match_id}/decline", summary="Decline an offer (signed link token or manage token)"
)
async def decline_offer(
    match_id: uuid.UUID,
    request: Request,
    uow: UoW,
    credentials: Credentials,
    body: RespondIn | None = None,
    token: Annotated[str | None, Query(description="The signed token from the link")] = None,
) -> MatchAnswer:
    return await _respond(request, uow, match_id, domain.DECLINE, credentials, body, token)


async def _respond(
    request: Request,
    uow: UnitOfWork,
    match_id: uuid.UUID,
    action: str,
    credentials: HTTPAuthorizationCredentials | None,
    body: RespondIn | None,
    token: str | None,
) -> MatchAnswer:
    link_token = (body.token if body else None) or token
    match = await lifecycle.respond(
        uow,
        match_id,
        action,
        link_secret=request.app.state.settings.link_secret,
        link_token=link_token,
        manage_token=None if link_token else (credentials.credentials if credentials else None),
    )
    return MatchAnswer(id=match.id, request_id=match.request_id, status=match.status)


@router.post("/matches/{match_id}/complete", summary="Mark an accepted match done, with feedback")
async def complete_match(
    match_id: uuid.UUID, body: CompleteIn, org: CurrentOrganisation, uow: UoW
) -> MatchAnswer:
    match = await lifecycle.complete(uow, org, match_id, body.rating, body.comment)
    return MatchAnswer(id=match.id, request_id=match.request_id, status=match.status)


# --- errors ---------------------------------------------------------------------------------


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def validation_errors(errors: list[Any]) -> JSONResponse:
    detail = [{"field": _field(e["loc"]), "reason": _reason(e["msg"])} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)


async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return validation_errors(list(exc.errors()))


def _plain(status_code: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status_code, headers=headers)

    return handler


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    RequestValidationError: on_request_validation,
    ValidationError: on_request_validation,
    Unauthorised: _plain(401),
    NotFound: _plain(404),
    Conflict: _plain(409),
    domain.InvalidTransition: _plain(409),
}
