"""The internal contact contract between the registry (which answers) and the notifier (which
asks): who to tell about a request, an offer or a sign-in, in which language and zone, and how
to reach them. The registry declares these as its ``response_model``; the notifier parses its
answers with them. Internal only: never published, never logged.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.vocabulary import Channel, MatchStatus, RequestStatus, Urgency


class _Contract(BaseModel):
    # The notifier must keep working while the registry adds a field (rolling upgrade).
    model_config = ConfigDict(frozen=True, extra="ignore")


class VolunteerContact(_Contract):
    id: uuid.UUID
    first_name: str | None  # None once the volunteer is erased
    email: str | None
    phone: str | None
    locale: str
    timezone: str
    channels: list[Channel]
    erased: bool


class BeneficiaryContact(_Contract):
    display_name: str
    locale: str
    email: str | None  # None unless the beneficiary agreed to be contacted
    phone: str | None
    contact_consent: bool


class RequestSummary(_Contract):
    id: uuid.UUID
    reference: str  # what people quote: the first eight characters of the id
    status: RequestStatus
    skills: list[str]
    languages: list[str]
    urgency: Urgency
    needed_by: date
    timezone: str
    remote: bool
    beneficiary: BeneficiaryContact


class OrganisationContact(_Contract):
    id: uuid.UUID
    name: str
    email: str
    locale: str


class MatchSummary(_Contract):
    id: uuid.UUID
    status: MatchStatus
    respond_by: datetime
    reasons: list[dict[str, Any]]
    # Signed at look-up time; present only while the offer can still be answered. The short
    # ones leave an SMS room for words.
    accept_url: str | None = None
    decline_url: str | None = None
    accept_short_url: str | None = None
    decline_short_url: str | None = None


class RequestContext(_Contract):
    """Everything a message about a request (and perhaps one offer of it) needs."""

    request: RequestSummary
    organisation: OrganisationContact
    volunteer: VolunteerContact | None
    match: MatchSummary | None


class SignInContext(_Contract):
    volunteer: VolunteerContact
    sign_in_url: str | None  # None once the volunteer is erased
