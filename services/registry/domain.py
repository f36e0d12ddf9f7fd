"""Registry rules with no I/O: value checks, secrets, request fingerprints, status changes, the
values people register and file, and the refusals the use cases raise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
import pycountry

from shared.skills import SKILL_CODES
from shared.vocabulary import (
    FINAL_REQUEST_STATUSES,
    Channel,
    MatchStatus,
    RequestStatus,
    Urgency,
)

LANGUAGE_CODES: frozenset[str] = frozenset(
    lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")
)
TIMEZONES: frozenset[str] = frozenset(available_timezones())
DESCRIPTION_MAX_LENGTH = 2000
CAPACITY_RANGE = (1, 20)
MAX_TRAVEL_KM_RANGE = (0.0, 500.0)


class RuleViolation(ValueError):
    """A value breaks a rule; the message says why in words a person understands."""


class InvalidTransition(Exception):
    """A state change that the current status does not allow (HTTP 409)."""


class NotFound(Exception):
    """404: missing, or belongs to someone else."""


class Unauthorised(Exception):
    """401: no key, or a wrong one."""


class Conflict(Exception):
    """409: the same Idempotency-Key with another body."""


class Duplicate(Exception):
    """The store refused a new record whose unique key another transaction stored first."""


# --- what people register and file -----------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A volunteer's registration as it is kept: personal data, then what matching needs."""

    name: str
    email: str
    phone: str | None
    locale: str
    languages: list[dict[str, str]]
    skills: list[str]
    lat: float | None
    lon: float | None
    max_travel_km: float
    remote_ok: bool
    availability: list[dict[str, str]]
    timezone: str
    capacity: int
    channels: list[Channel]


@dataclass(frozen=True)
class NewRequest:
    """A support request as an organisation files it, its rules already checked."""

    beneficiary_display_name: str
    beneficiary_locale: str
    beneficiary_email: str | None
    beneficiary_phone: str | None
    contact_consent: bool
    languages: list[str]
    skills: list[str]
    lat: float | None
    lon: float | None
    remote_ok: bool
    windows: list[dict[str, str]]
    timezone: str
    urgency: Urgency
    needed_by: date
    description: str


def check_language_code(code: str) -> str:
    code = code.strip().lower()
    if code not in LANGUAGE_CODES:
        raise RuleViolation(f"'{code}' is not an ISO 639-1 language code")
    return code


def check_skill_code(code: str) -> str:
    if code not in SKILL_CODES:
        raise RuleViolation(f"'{code}' is not a known skill; see GET /v1/skills")
    return code


def check_timezone(name: str) -> str:
    if name not in TIMEZONES:
        raise RuleViolation(f"'{name}' is not an IANA time zone such as Europe/Warsaw")
    return name


def check_phone(raw: str) -> str:
    """Return the number in E.164 form; only numbers written in E.164 (+ and digits) pass."""
    if not raw.startswith("+"):
        raise RuleViolation("phone must be in E.164 form, e.g. +48601234567")
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise RuleViolation(f"phone is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise RuleViolation("phone is not a valid number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_clock(value: str) -> time:
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise RuleViolation(f"'{value}' is not a time of day in HH:MM form") from exc


def check_window(start: str, end: str) -> None:
    if parse_clock(end) <= parse_clock(start):
        raise RuleViolation(f"the window ends ({end}) before or when it starts ({start})")


def check_needed_by(needed_by: date, timezone: str, now: datetime) -> None:
    if needed_by < now.astimezone(ZoneInfo(timezone)).date():
        raise RuleViolation(f"{needed_by.isoformat()} is in the past")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - names are checked on the way in
        raise RuleViolation(f"unknown time zone {name}") from exc


def round_coordinate(value: float) -> float:
    """About 100 m: enough for matching, not enough to find a door."""
    return round(value, 3)


# --- secrets --------------------------------------------------------------------------------


def new_secret(prefix: str) -> str:
    """A random bearer secret (256 bits); the prefix tells a person what kind of key it is."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # The secrets are long and random, so a fast hash is enough; slow hashes protect weak passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    if stored_hash is None:
        return False
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def fingerprint(body: dict[str, Any]) -> str:
    """Stable hash of a request body, used to tell a retried POST from a different one."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- request status -------------------------------------------------------------------------

# Waiting for a volunteer: a new offer may be recorded for these.
OPEN_FOR_OFFERS: Final[frozenset[RequestStatus]] = frozenset({"open", "unmatched"})
# Not served yet: the operators' gauges count these, and they expire when their date passes.
WAITING: Final[tuple[RequestStatus, ...]] = ("open", "proposed", "unmatched")


def check_can_cancel(status: RequestStatus) -> None:
    if status in FINAL_REQUEST_STATUSES:
        raise InvalidTransition(f"the request is already {status}")


# --- offers ---------------------------------------------------------------------------------

# What a volunteer does with an offer.
Action = Literal["accept", "decline"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
ACCEPT: Final[Action] = "accept"
DECLINE: Final[Action] = "decline"


def parse_action(text: str) -> Action | None:
    """The action a page address names, or None for any other word."""
    return next((action for action in ACTIONS if action == text), None)


def respond_by(
    proposed_at: datetime, urgency: Urgency, ttl: timedelta, critical_ttl: timedelta
) -> datetime:
    """How long a volunteer has to answer: shorter when someone needs help urgently."""
    return proposed_at + (critical_ttl if urgency == "critical" else ttl)


def sign_link(secret: str, match_id: uuid.UUID, action: Action, expires_at: datetime) -> str:
    """A token for one action on one offer, valid until ``expires_at``; single use is enforced
    by the offer's status, which the first use changes."""
    expires = int(expires_at.timestamp())
    return f"{expires}.{_link_signature(secret, match_id, action, expires)}"


def link_is_valid(
    secret: str, token: str, match_id: uuid.UUID, action: Action, now: datetime
) -> bool:
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or not signature:
        return False
    expected = _link_signature(secret, match_id, action, int(expires_text))
    if not hmac.compare_digest(signature, expected):
        return False
    return now.timestamp() <= int(expires_text)


def _link_signature(secret: str, match_id: uuid.UUID, action: Action, expires: int) -> str:
    message = f"{match_id}|{action}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


# --- sign-in links --------------------------------------------------------------------------

# Part of every signed sign-in message: an offer signature is made over a message that starts
# with the offer's id, so no offer token can ever open a profile (nor the reverse).
SIGN_IN_PURPOSE = "volunteer-sign-in"


def sign_in_token(secret: str, volunteer_id: uuid.UUID, expires_at: datetime) -> str:
    """A token that opens one volunteer's profile until ``expires_at`` (whole seconds: the
    link carries the expiry as a Unix time, and the signature covers exactly that number)."""
    message = f"{SIGN_IN_PURPOSE}|{volunteer_id}|{int(expires_at.timestamp())}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_in_token_is_valid(
    secret: str, token: str, volunteer_id: uuid.UUID, expires_at: datetime, now: datetime
) -> bool:
    expected = sign_in_token(secret, volunteer_id, expires_at)
    # Bytes, because a token read from a URL may hold characters compare_digest refuses in str.
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return False
    return now <= expires_at


def sign_in_url(base_url: str, secret: str, volunteer_id: uuid.UUID, expires_at: datetime) -> str:
    """The link a volunteer follows to their profile; the page checks it with
    ``sign_in_token_is_valid(secret, token, volunteer_id, datetime.fromtimestamp(expires, UTC),
    now)``."""
    expires = int(expires_at.timestamp())
    token = sign_in_token(secret, volunteer_id, expires_at)
    return f"{base_url.rstrip('/')}/volunteer/enter/{volunteer_id}?expires={expires}&token={token}"


def check_can_respond(
    match_status: MatchStatus, request_status: RequestStatus, deadline: datetime, now: datetime
) -> None:
    """An offer can be answered once, while it is open and before its deadline."""
    if request_status == "cancelled":
        raise InvalidTransition("the request was cancelled")
    if request_status == "expired":
        raise InvalidTransition("the request passed its needed_by date")
    if match_status in ("cancelled", "withdrawn"):
        raise InvalidTransition("the offer was withdrawn")
    if match_status == "accepted":
        raise InvalidTransition("the offer was already accepted")
    if match_status == "declined":
        raise InvalidTransition("the offer was already declined")
    if match_status == "expired" or now > deadline:
        raise InvalidTransition("the offer expired")
    if match_status != "proposed":
        raise InvalidTransition(f"the offer is {match_status}")


def check_can_complete(match_status: MatchStatus) -> None:
    if match_status != "accepted":
        raise InvalidTransition(
            f"only an accepted match can be completed; this one is {match_status}"
        )


def first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.strip() else None


def short_code(secret: str, match_id: uuid.UUID, action: Action, expires_at: datetime) -> str:
    """A compact link code for SMS, where every character counts: the offer id, the action and
    a signature that binds them to the offer's deadline (checked against the stored offer)."""
    signature = hmac.new(
        secret.encode(),
        f"{match_id}|{action}|{int(expires_at.timestamp())}".encode(),
        hashlib.sha256,
    ).digest()[:9]
    return (
        base64.urlsafe_b64encode(match_id.bytes).decode().rstrip("=")
        + action[0]
        + base64.urlsafe_b64encode(signature).decode()
    )


def read_short_code(code: str) -> tuple[uuid.UUID, Action] | None:
    """The offer id and action a code names, or None; its signature is checked separately."""
    if len(code) != 35 or code[22] not in "ad":
        return None
    try:
        match_id = uuid.UUID(bytes=base64.urlsafe_b64decode(code[:22] + "=="))
    except ValueError:
        return None
    return match_id, ACCEPT if code[22] == "a" else DECLINE


def short_code_is_valid(
    secret: str,
    code: str,
    match_id: uuid.UUID,
    action: Action,
    expires_at: datetime,
    now: datetime,
) -> bool:
    expected = short_code(secret, match_id, action, expires_at)
    return hmac.compare_digest(code, expected) and now <= expires_at


# --- audit ----------------------------------------------------------------------------------

# Who acted: the operator (the admin key), an organisation (its key or its desk), or a
# volunteer (their manage token or their signed-in pages).
ActorKind = Literal["operator", "organisation", "volunteer"]
ACTOR_KINDS: Final[tuple[ActorKind, ...]] = get_args(ActorKind)

# What was done. Codes only: an audit row never holds the personal data itself.
AuditAction = Literal[
    "organisation.created",
    "volunteer.contact_viewed",
    "volunteer.data_downloaded",
    "volunteer.erased",
]
AUDIT_ACTIONS: Final[tuple[AuditAction, ...]] = get_args(AuditAction)
AUDIT_PAGE_RANGE = (1, 500)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None


OPERATOR = Actor("operator")
