"""How a refusal is answered: a page for the pages' addresses, JSON with the field and the
reason for the API."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.registry import domain
from services.registry.entrypoints import api
from services.registry.entrypoints.web import security
from services.registry.entrypoints.web.render import Web
from services.registry.settings import RegistrySettings

WEB_PREFIXES = ("/desk", "/volunteer", "/offers")


def exception_handlers(settings: RegistrySettings) -> dict[int | type[Exception], Any]:
    def is_page(request: Request) -> bool:
        return request.url.path.startswith(WEB_PREFIXES)

    async def not_found(request: Request, exc: Exception) -> Response:
        """A page answers a missing (or someone else's) thing with a page; the API with JSON."""
        if is_page(request):
            return Web(request, settings).page("web/not_found.html", status_code=404)
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def bad_address(request: Request, exc: Exception) -> Response:
        """A page address with a malformed id or parameter leads nowhere: a page says so; the
        API answers with the field and the reason."""
        if is_page(request):
            return Web(request, settings).page("web/not_found.html", status_code=404)
        return await api.on_request_validation(request, exc)

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        return Web(request, settings).refused()

    return {
        **api.EXCEPTION_HANDLERS,
        domain.NotFound: not_found,
        RequestValidationError: bad_address,
        security.CsrfRefused: csrf_refused,
    }
