"""What routes and pages are given: the settings, a unit of work, and who is asking.

The composition root (``bootstrap.create_app``) puts the settings and the unit-of-work factory
on the app; this module is the one place that reads them from there.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.registry import domain
from services.registry.adapters.orm import Organisation, Volunteer
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.entrypoints.web import security
from services.registry.entrypoints.web.render import Web
from services.registry.settings import RegistrySettings
from services.registry.usecases import organisations, volunteers
from services.registry.usecases.volunteers import SignedIn


def settings(request: Request) -> RegistrySettings:
    found: RegistrySettings = request.app.state.settings
    return found


def unit_of_work(request: Request) -> UnitOfWork:
    """One unit of work per HTTP request; each use case it serves runs its own transaction."""
    new_uow: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return new_uow()


Settings = Annotated[RegistrySettings, Depends(settings)]
UoW = Annotated[UnitOfWork, Depends(unit_of_work)]

# --- API callers ----------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise domain.Unauthorised("an Authorization: Bearer key is needed")
    return credentials.credentials


def _check_key(credentials: HTTPAuthorizationCredentials | None, expected: str, what: str) -> None:
    if not hmac.compare_digest(bearer_token(credentials).encode(), expected.encode()):
        raise domain.Unauthorised(f"wrong {what}")


def require_admin(settings: Settings, credentials: Credentials) -> None:
    _check_key(credentials, settings.admin_api_key, "operator key")


def require_service(settings: Settings, credentials: Credentials) -> None:
    _check_key(credentials, settings.service_token, "service token")


async def current_organisation(uow: UoW, credentials: Credentials) -> Organisation:
    return await organisations.organisation_for_key(uow, bearer_token(credentials))


CurrentOrganisation = Annotated[Organisation, Depends(current_organisation)]


async def audit_scope(settings: Settings, uow: UoW, credentials: Credentials) -> uuid.UUID | None:
    """Whose audit trail the caller may read: None (everyone's) for the operator key, else the
    organisation of the key given."""
    key = bearer_token(credentials)
    if hmac.compare_digest(key.encode(), settings.admin_api_key.encode()):
        return None
    return (await organisations.organisation_for_key(uow, key)).id


AuditScope = Annotated[uuid.UUID | None, Depends(audit_scope)]

# --- page readers ---------------------------------------------------------------------------


def web(request: Request, settings: Settings) -> Web:
    return Web(request, settings)


WebPage = Annotated[Web, Depends(web)]


async def desk_organisation(page: WebPage, uow: UoW) -> Organisation | None:
    """The organisation whose desk session the reader holds, if any."""
    found = page.session(security.ORGANISATION)
    if found is None:
        return None
    return await organisations.find_organisation(uow, found.subject_id)


def signed_in_volunteer(page: WebPage) -> SignedIn | None:
    found = page.session(security.VOLUNTEER)
    return SignedIn(found.subject_id) if found else None


SignedInVolunteer = Annotated[SignedIn | None, Depends(signed_in_volunteer)]


async def me(who: SignedInVolunteer, uow: UoW) -> Volunteer | None:
    """The signed-in volunteer, unless they erased their data since."""
    return await volunteers.find_signed_in(uow, who)


DeskOrganisation = Annotated[Organisation | None, Depends(desk_organisation)]
Me = Annotated[Volunteer | None, Depends(me)]
