"""Rendering a page: the reader's language, the CSRF token and the templates' shared context."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.registry.entrypoints.web import forms, security
from services.registry.entrypoints.web.i18n import ENDONYMS, Words, choose_locale, words
from services.registry.settings import RegistrySettings
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


class Web:
    """One reader's request as the pages answer it: their language, their session and the page.

    Built for each request from the settings (see ``entrypoints.dependencies``)."""

    def __init__(self, request: Request, settings: RegistrySettings) -> None:
        self.request = request
        self.settings = settings

    @property
    def secure(self) -> bool:
        """Whether cookies must travel over TLS only."""
        return security.served_over_tls(self.request, self.settings.public_base_url)

    def words(self, known: str | None = None) -> Words:
        return reader_words(self.request, known)

    def session(self, kind: str) -> security.Session | None:
        return security.current_session(self.request, kind, self.settings.link_secret)

    def open_session(self, response: Response, kind: str, subject_id: uuid.UUID) -> None:
        security.open_session(response, kind, subject_id, self.settings.link_secret, self.secure)

    def close_session(self, response: Response) -> None:
        security.close_session(response, self.secure)

    def page(
        self,
        template: str,
        status_code: int = 200,
        known_locale: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        request = self.request
        w = self.words(known_locale)
        signed_in = {
            "volunteer": self.session(security.VOLUNTEER) is not None,
            "desk": self.session(security.ORGANISATION) is not None,
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
        security.remember_csrf(request, response, self.secure)
        asked = request.query_params.get("lang")
        if asked in LOCALES and asked != request.cookies.get(security.LANGUAGE_COOKIE):
            year = 60 * 60 * 24 * 365
            security.set_cookie(response, security.LANGUAGE_COOKIE, asked, year, self.secure)
        return response

    def refused(self) -> HTMLResponse:
        """A form without this reader's CSRF token: nothing is changed."""
        return self.page("web/refused.html", status_code=403)


def redirect(to: str) -> RedirectResponse:
    """After a successful POST: the next GET shows the result (reloading repeats nothing)."""
    return RedirectResponse(to, status_code=303)
