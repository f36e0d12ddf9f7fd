"""Thin HTTP routes: parse, call one use case, shape the answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.registry import domain
from services.registry.adapters.orm import Match
from services.registry.entrypoints import presenters
from services.registry.entrypoints.dependencies import (
    AuditScope,
    Credentials,
    CurrentOrganisation,
    Settings,
    UoW,
    bearer_token,
    require_admin,
)
from services.registry.entrypoints.schemas import (
    AuditEntryOut,
    CompleteIn,
    ErrorBody,
    MatchAnswer,
    OrganisationCreated,
    OrganisationIn,
    RequestIn,
    RequestOut,
    RequestPage,
    RespondIn,
    SkillOut,
    VolunteerCreated,
    VolunteerIn,
    VolunteerOut,
    VolunteerPatch,
)
from services.registry.usecases import audit, offers, organisations, requests, volunteers
from services.registry.usecases.requests import RequestView
from shared.skills import SKILL_LABELS
from shared.vocabulary import RequestStatus

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong key"},
    404: {"model": ErrorBody, "description": "Not found (or not yours)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "A field breaks a rule: the field and the reason"},
}

router = APIRouter(prefix="/v1", responses=ERRORS)


def request_out(view: RequestView) -> RequestOut:
    shown = presenters.request_with_offers(view)
    shown["offers"] = [presenters.offer_record(offer) for offer in shown["offers"]]
    return RequestOut.model_validate(shown)


def match_answer(match: Match) -> MatchAnswer:
    return MatchAnswer(id=match.id, request_id=match.request_id, status=match.status)


# --- routes ---------------------------------------------------------------------------------


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
    summary="Create an organisation (operator only); its API key is shown once",
)
async def create_organisation(body: OrganisationIn, uow: UoW) -> OrganisationCreated:
    org, api_key = await organisations.create_organisation(
        uow, body.name, str(body.email), body.locale
    )
    return OrganisationCreated(
        id=org.id, name=org.name, email=org.email, locale=org.locale, api_key=api_key
    )


@router.get("/skills", summary="The skill taxonomy with labels in every supported locale")
async def list_skills() -> list[SkillOut]:
    return [SkillOut(code=code, labels=labels) for code, labels in SKILL_LABELS.items()]


@router.post("/volunteers", status_code=status.HTTP_201_CREATED, summary="Register as a volunteer")
async def register_volunteer(body: VolunteerIn, uow: UoW) -> VolunteerCreated:
    volunteer, token = await volunteers.register_volunteer(uow, body.profile())
    return VolunteerCreated.model_validate(
        {**presenters.volunteer(volunteer), "manage_token": token}
    )


@router.get("/volunteers/{volunteer_id}", summary="Your own profile (manage token)")
async def get_volunteer(
    volunteer_id: uuid.UUID, uow: UoW, credentials: Credentials
) -> VolunteerOut:
    volunteer = await volunteers.get_volunteer(uow, volunteer_id, bearer_token(credentials))
    return VolunteerOut.model_validate(presenters.volunteer(volunteer))


@router.patch("/volunteers/{volunteer_id}", summary="Change your profile or pause (manage token)")
async def update_volunteer(
    volunteer_id: uuid.UUID, body: VolunteerPatch, uow: UoW, credentials: Credentials
) -> VolunteerOut:
    volunteer = await volunteers.update_volunteer(
        uow, volunteer_id, bearer_token(credentials), body.revise, body.paused
    )
    return VolunteerOut.model_validate(presenters.volunteer(volunteer))


@router.delete(
    "/volunteers/{volunteer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase your personal data (manage token)",
)
async def erase_volunteer(volunteer_id: uuid.UUID, uow: UoW, credentials: Credentials) -> Response:
    await volunteers.erase_volunteer(uow, volunteer_id, bearer_token(credentials))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/audit",
    summary="The audit trail, newest first: an organisation's key reads its own, the operator's all",
)
async def read_audit(
    scope: AuditScope,
    uow: UoW,
    limit: Annotated[
        int, Query(ge=domain.AUDIT_PAGE_RANGE[0], le=domain.AUDIT_PAGE_RANGE[1])
    ] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="entries older than this id")
    ] = None,
) -> list[AuditEntryOut]:
    entries = await audit.read(uow, scope, before, limit)
    return [AuditEntryOut.model_validate(entry) for entry in entries]


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
    submitted = await requests.submit_request(
        uow, org, body.new_request(), body.fingerprint(), idempotency_key
    )
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return request_out(RequestView(submitted.request, []))


@router.get("/requests", summary="Your organisation's requests, newest first")
async def list_requests(
    org: CurrentOrganisation,
    uow: UoW,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestPage:
    rows, total = await requests.list_requests(uow, org, status_, limit, offset)
    return RequestPage(
        items=[request_out(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/requests/{request_id}", summary="One of your organisation's requests")
async def get_request(request_id: uuid.UUID, org: CurrentOrganisation, uow: UoW) -> RequestOut:
    return request_out(await requests.get_request(uow, org, request_id))


@router.post("/requests/{request_id}/cancel", summary="Cancel a request before it is completed")
async def cancel_request(request_id: uuid.UUID, org: CurrentOrganisation, uow: UoW) -> RequestOut:
    return request_out(await requests.cancel_request(uow, org, request_id))


def _answer(action: domain.Action) -> Callable[..., Awaitable[MatchAnswer]]:
    async def answer(
        match_id: uuid.UUID,
        uow: UoW,
        settings: Settings,
        credentials: Credentials,
        body: RespondIn | None = None,
        token: Annotated[str | None, Query(description="The signed token from the link")] = None,
    ) -> MatchAnswer:
        # The link's token (in the body or the address) wins over an Authorization header.
        link_token = (body.token if body else None) or token
        credential: offers.OfferCredential = None
        if link_token is not None:
            credential = offers.LinkToken(link_token)
        elif credentials is not None:
            credential = offers.ManageToken(credentials.credentials)
        match = await offers.respond(
            uow, match_id, action, credential, link_secret=settings.link_secret
        )
        return match_answer(match)

    return answer


router.post(
    "/matches/{match_id}/accept",
    name="accept_offer",
    summary="Accept an offer (signed link token or manage token)",
)(_answer(domain.ACCEPT))
router.post(
    "/matches/{match_id}/decline",
    name="decline_offer",
    summary="Decline an offer (signed link token or manage token)",
)(_answer(domain.DECLINE))


@router.post("/matches/{match_id}/complete", summary="Mark an accepted match done, with feedback")
async def complete_match(
    match_id: uuid.UUID, body: CompleteIn, org: CurrentOrganisation, uow: UoW
) -> MatchAnswer:
    match = await offers.complete(uow, org, match_id, body.rating, body.comment)
    return match_answer(match)


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
    domain.Unauthorised: _plain(401),
    domain.NotFound: _plain(404),
    domain.Conflict: _plain(409),
    domain.InvalidTransition: _plain(409),
}
