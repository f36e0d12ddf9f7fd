"""The event catalogue: one pydantic model per event, one subject per model.

Subjects follow ``<producer>.<entity>.<verb>.v<N>``. A breaking change to a payload is a new
model with a new version subject, never an edit of an existing one. Events carry ids, codes and
what matching needs; never names, email addresses, phone numbers or free text about a person.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.vocabulary import (
    Channel,
    Day,
    DeclineReason,
    Level,
    NotificationKind,
    ReasonCode,
    Urgency,
)


def _new_id() -> uuid.UUID:
    return uuid.uuid4()


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event carries. ``subject`` is the NATS subject the model is published on."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    subject: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=_new_id)
    occurred_at: datetime = Field(default_factory=_now)


class LanguageLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    level: Level


class TimeWindow(BaseModel):
    """A weekly window in the owner's local time zone, ``HH:MM`` strings."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    day: Day
    start: str
    end: str


class Location(BaseModel):
    """Rounded to three decimals (about 100 m) before it leaves the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lat: float
    lon: float


# --- registry -------------------------------------------------------------------------------


class VolunteerProfile(Event):
    """What the matcher needs to know about a volunteer: a full snapshot, not a diff."""

    volunteer_id: uuid.UUID
    locale: str
    languages: list[LanguageLevel]
    skills: list[str]
    location: Location | None
    max_travel_km: float
    remote_ok: bool
    availability: list[TimeWindow]
    timezone: str
    capacity: int
    paused: bool = False


class VolunteerRegistered(VolunteerProfile):
    subject = "registry.volunteer.registered.v1"


class VolunteerUpdated(VolunteerProfile):
    subject = "registry.volunteer.updated.v1"


class VolunteerErased(Event):
    subject = "registry.volunteer.erased.v1"
    volunteer_id: uuid.UUID


class VolunteerSignInRequested(Event):
    """A volunteer asked for a link to their profile (or just registered through the web
    pages). The notifier emails it; the link itself is signed by the registry at send time,
    so no stream ever holds something that opens a profile."""

    subject = "registry.volunteer.sign_in_requested.v1"
    volunteer_id: uuid.UUID
    expires_at: datetime
    welcome: bool = False  # True right after sign-up: the message greets rather than answers


class RequestSubmitted(Event):
    subject = "registry.request.submitted.v1"
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    beneficiary_locale: str
    languages: list[str]
    skills: list[str]
    location: Location | None
    remote_ok: bool
    windows: list[TimeWindow]
    timezone: str
    urgency: Urgency
    needed_by: date


class RequestClosed(Event):
    """A request left matching unserved; the offer it held, if any, is withdrawn."""

    request_id: uuid.UUID
    organisation_id: uuid.UUID
    match_id: uuid.UUID | None = None
    volunteer_id: uuid.UUID | None = None


class RequestCancelled(RequestClosed):
    subject = "registry.request.cancelled.v1"


class RequestExpired(RequestClosed):
    """Its ``needed_by`` date passed (in the request's time zone) before anyone helped."""

    subject = "registry.request.expired.v1"


class OfferEvent(Event):
    """Something that happened to one offer: the ids it concerns."""

    match_id: uuid.UUID
    request_id: uuid.UUID
    volunteer_id: uuid.UUID
    organisation_id: uuid.UUID


class MatchAccepted(OfferEvent):
    subject = "registry.match.accepted.v1"


class MatchDeclined(OfferEvent):
    subject = "registry.match.declined.v1"
    reason: DeclineReason = "declined"


class MatchCompleted(OfferEvent):
    subject = "registry.match.completed.v1"
    rating: int | None = None


# --- matcher --------------------------------------------------------------------------------


class Reason(BaseModel):
    """A machine-readable reason: a code plus parameters, rendered into words by readers."""

    model_config = ConfigDict(frozen=True, extra="allow")
    code: ReasonCode


class MatchProposed(OfferEvent):
    subject = "matcher.match.proposed.v1"
    urgency: Urgency
    score: float
    breakdown: dict[str, float]
    reasons: list[Reason]


class RequestUnmatched(Event):
    subject = "matcher.request.unmatched.v1"
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    reasons: list[Reason]


# --- notifier -------------------------------------------------------------------------------


class NotificationOutcome(Event):
    notification_id: uuid.UUID
    source_event_id: uuid.UUID
    kind: NotificationKind
    channel: Channel
    locale: str


class NotificationSent(NotificationOutcome):
    subject = "notifier.notification.sent.v1"
    provider_message_id: str | None = None


class NotificationFailed(NotificationOutcome):
    subject = "notifier.notification.failed.v1"
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    model.subject: model
    for model in (
        VolunteerRegistered,
        VolunteerUpdated,
        VolunteerErased,
        VolunteerSignInRequested,
        RequestSubmitted,
        RequestCancelled,
        RequestExpired,
        MatchAccepted,
        MatchDeclined,
        MatchCompleted,
        MatchProposed,
        RequestUnmatched,
        NotificationSent,
        NotificationFailed,
    )
}


def parse_event(subject: str, data: bytes | str | dict[str, Any]) -> Event:
    """Decode a message into its event model; raises KeyError or ValidationError when it is not one."""
    model = EVENT_TYPES[subject]
    if isinstance(data, dict):
        return model.model_validate(data)
    return model.model_validate_json(data)
