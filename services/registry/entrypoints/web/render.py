"""Rendering a page: the reader's language, the CSRF token and the templates' shared context."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.i18n import ENDONYMS, Words, choose_locale, words
from shared.skills import LOCALES

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(),
    extensions=["jinja2.ext.do"],
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def reader_words(request: Request, known: str | None = None) -> Words:
    """The page language: ``?lang=``, else the switcher's cookie, else the language the
    system knows the reader by (a volunteer's own), else ``Accept-Language``."""
    locale = choose_locale(
        request.query_params.get("lang"),
        request.cookies.get(security.LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
        known,
    )
    return words(locale)


def _switcher(request: Request, current: str) -> list[dict[str, Any]]:
    others = {k: v for k, v in request.query_params.items() if k != "lang"}
    return [
        {
            "code": code,
            "name": ENDONYMS[code],
            "href": f"{request.url.path}?{urlencode({**others, 'lang': code})}",
            "current": code == current,
        }
        for code in LOCALES
    ]


def page(
    request: Request,
    template: str,
    status_code: int = 200,
    known_locale: str | None = None,
    **context: Any,
) -> HTMLResponse:
    w = reader_words(request, known_locale)
    signed_in = {
        "volunteer": security.current_session(request, security.VOLUNTEER) is not None,
        "desk": security.current_session(request, security.ORGANISATION) is not None,
    }
    html = environment.get_template(template).render(
        w=w,
        _=w._,
        ngettext=w.ngettext,
        csrf_field=security.CSRF_FIELD,
        csrf_token=security.csrf_token(request),
        languages=_switcher(request, w.locale),
        signed_in=signed_in,
        forms=forms,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    security.remember_csrf(request, response)
    asked = request.query_params.get("lang")
    if asked in LOCALES and asked != request.cookies.get(security.LANGUAGE_COOKIE):
        security.set_cookie(request, response, security.LANGUAGE_COOKIE, asked, 60 * 60 * 24 * 365)
    return response


def redirect(to: str) -> RedirectResponse:
    """After a successful POST: the next GET shows the result (reloading repeats nothing)."""
    return RedirectResponse(to, status_code=303)


def refused(request: Request) -> HTMLResponse:
    """A form without this reader's CSRF token: nothing is changed."""
    return page(request, "web/refused.html", status_code=403)
