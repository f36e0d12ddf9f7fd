"""Web sessions and CSRF protection for the pages.

A session is a signed cookie ``<kind>.<id>.<expires>.<signature>``: ``v`` for a volunteer
(opened through an emailed link), ``o`` for an organisation's desk (opened with its key). It
holds no personal data and is checked against the database on every request, so an erased
volunteer's session opens nothing. Cookies are HttpOnly, SameSite=Lax (a link from an email
still arrives signed in; a form posted from another site does not carry them) and Secure
when the site is served over TLS.

CSRF: every form carries the value of the ``csrf`` cookie, a random token the browser of the
page's reader alone knows (double submit); a POST whose field and cookie differ is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response

SESSION_COOKIE = "involvim_session"
CSRF_COOKIE = "involvim_csrf"
LANGUAGE_COOKIE = "involvim_lang"
CSRF_FIELD = "csrf_token"
VOLUNTEER = "v"
ORGANISATION = "o"
# A volunteer comes back now and then through their link; a desk is a working day.
SESSION_LIFETIME = {VOLUNTEER: timedelta(days=7), ORGANISATION: timedelta(hours=10)}


@dataclass(frozen=True)
class Session:
    kind: str
    subject_id: uuid.UUID
    expires: int


def _signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), f"web-session|{payload}".encode(), hashlib.sha256).hexdigest()


def session_value(secret: str, kind: str, subject_id: uuid.UUID, now: datetime) -> str:
    expires = int((now + SESSION_LIFETIME[kind]).timestamp())
    payload = f"{kind}.{subject_id}.{expires}"
    return f"{payload}.{_signature(secret, payload)}"


def read_session(secret: str, value: str | None, now: datetime) -> Session | None:
    if not value:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    kind, subject, expires = [*payload.split("."), "", "", ""][:3]
    if kind not in SESSION_LIFETIME or not expires.isdigit() or int(expires) < now.timestamp():
        return None
    try:
        return Session(kind, uuid.UUID(subject), int(expires))
    except ValueError:
        return None


def served_over_tls(request: Request, public_base_url: str) -> bool:
    return request.url.scheme == "https" or public_base_url.startswith("https://")


def set_cookie(response: Response, name: str, value: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


def open_session(
    response: Response, kind: str, subject_id: uuid.UUID, secret: str, secure: bool
) -> None:
    now = datetime.now().astimezone()
    value = session_value(secret, kind, subject_id, now)
    set_cookie(response, SESSION_COOKIE, value, int(SESSION_LIFETIME[kind].total_seconds()), secure)


def close_session(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def current_session(request: Request, kind: str, secret: str) -> Session | None:
    found = read_session(secret, request.cookies.get(SESSION_COOKIE), datetime.now().astimezone())
    return found if found is not None and found.kind == kind else None


def csrf_token(request: Request) -> str:
    """The reader's CSRF token: the cookie's, or a new one that the page's answer will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def remember_csrf(request: Request, response: Response, secure: bool) -> None:
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is not None:
        set_cookie(response, CSRF_COOKIE, token, 60 * 60 * 24 * 30, secure)


def csrf_is_valid(request: Request, submitted: str | None) -> bool:
    expected = request.cookies.get(CSRF_COOKIE)
    return bool(expected and submitted) and hmac.compare_digest(str(submitted), str(expected))


class CsrfRefused(Exception):
    """A form was posted without this reader's CSRF token: nothing may change."""


async def checked_form(request: Request) -> dict[str, list[str]]:
    """The posted form's fields, once its CSRF token matched the reader's cookie."""
    data = await request.form()
    form = {key: [str(value) for value in data.getlist(key)] for key in data}
    if not csrf_is_valid(request, (form.get(CSRF_FIELD) or [""])[0]):
        raise CsrfRefused
    return form


# Every page that changes something takes its form through this, so none can skip the check.
CheckedForm = Annotated[dict[str, list[str]], Depends(checked_form)]
