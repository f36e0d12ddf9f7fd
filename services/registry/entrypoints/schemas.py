"""HTTP bodies: what the API accepts (with every rule that refuses bad input) and returns."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from services.registry import domain
from services.registry.adapters.orm import Volunteer
from services.registry.entrypoints import presenters
from shared.vocabulary import CHANNELS, Channel, Day, Level, Urgency

STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LanguageIn(BaseModel):
    model_config = STRICT
    code: str = Field(examples=["uk"], description="ISO 639-1 code")
    level: Level

    _code = field_validator("code")(domain.check_language_code)


class WindowIn(BaseModel):
    """A weekly time window in the owner's time zone."""

    model_config = STRICT
    day: Day
    start: str = Field(examples=["17:00"], description="HH:MM")
    end: str = Field(examples=["19:00"], description="HH:MM, after start")

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        domain.parse_clock(value)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str, info: ValidationInfo) -> str:
        domain.parse_clock(value)
        if "start" in info.data:
            domain.check_window(info.data["start"], value)
        return value


class LocationIn(BaseModel):
    model_config = STRICT
    lat: float = Field(ge=-90, le=90, examples=[52.5463])
    lon: float = Field(ge=-180, le=180, examples=[19.7065])


def _check_phone(value: str | None) -> str | None:
    return None if value is None else domain.check_phone(value)


def _check_languages(values: list[Any]) -> list[Any]:
    codes = [v.code if isinstance(v, LanguageIn) else v for v in values]
    if len(set(codes)) != len(codes):
        raise domain.RuleViolation("a language is listed twice")
    return values


def _check_skills(values: list[str]) -> list[str]:
    for code in values:
        domain.check_skill_code(code)
    if len(set(values)) != len(values):
        raise domain.RuleViolation("a skill is listed twice")
    return values


def _check_location(value: LocationIn | None, info: ValidationInfo) -> LocationIn | None:
    if value is None and info.data.get("remote_ok") is False:
        raise domain.RuleViolation("a location is needed unless remote_ok is true")
    return value


VOLUNTEER_EXAMPLE: dict[str, Any] = {
    "name": "Olena Kovalenko",
    "email": "olena@example.org",
    "phone": "+48601234567",
    "locale": "uk",
    "languages": [{"code": "uk", "level": "native"}, {"code": "pl", "level": "fluent"}],
    "skills": ["translation", "paperwork"],
    "location": {"lat": 52.5463, "lon": 19.7065},
    "max_travel_km": 10,
    "remote_ok": True,
    "availability": [{"day": "tue", "start": "17:00", "end": "20:00"}],
    "timezone": "Europe/Warsaw",
    "capacity": 2,
    "channels": ["email", "sms"],
    "consent": True,
}


class VolunteerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [VOLUNTEER_EXAMPLE]},
    )
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: str | None = Field(default=None, description="E.164, e.g. +48601234567")
    locale: str = Field(description="ISO 639-1 code of the language messages are sent in")
    languages: list[LanguageIn] = Field(min_length=1, max_length=20)
    skills: list[str] = Field(min_length=1, max_length=20)
    remote_ok: bool = False
    location: LocationIn | None = Field(default=None, validate_default=True)
    max_travel_km: float = Field(default=10, ge=0, le=domain.MAX_TRAVEL_KM_RANGE[1])
    availability: list[WindowIn] = Field(min_length=1, max_length=50)
    timezone: str = Field(examples=["Europe/Warsaw"])
    capacity: int = Field(default=1, ge=domain.CAPACITY_RANGE[0], le=domain.CAPACITY_RANGE[1])
    channels: list[Channel] = Field(default_factory=lambda: list(CHANNELS))
    consent: bool = Field(description="Agrees that the registry keeps these details to match them")

    _phone = field_validator("phone")(_check_phone)
    _locale = field_validator("locale")(domain.check_language_code)
    _languages = field_validator("languages")(_check_languages)
    _skills = field_validator("skills")(_check_skills)
    _location = field_validator("location")(_check_location)
    _timezone = field_validator("timezone")(domain.check_timezone)

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if not value:
            raise domain.RuleViolation("registration needs consent to keep these details")
        return value

    def profile(self) -> domain.Profile:
        return domain.Profile(
            name=self.name,
            email=str(self.email),
            phone=self.phone,
            locale=self.locale,
            languages=[lang.model_dump() for lang in self.languages],
            skills=list(self.skills),
            lat=self.location.lat if self.location else None,
            lon=self.location.lon if self.location else None,
            max_travel_km=self.max_travel_km,
            remote_ok=self.remote_ok,
            availability=[w.model_dump() for w in self.availability],
            timezone=self.timezone,
            capacity=self.capacity,
            channels=list(dict.fromkeys(self.channels)),
        )


class VolunteerPatch(BaseModel):
    """Any subset of the registration fields, plus ``paused``; the result is checked as a whole."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"paused": True}]})
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    languages: list[dict[str, Any]] | None = None
    skills: list[str] | None = None
    remote_ok: bool | None = None
    location: dict[str, Any] | None = None
    max_travel_km: float | None = None
    availability: list[dict[str, Any]] | None = None
    timezone: str | None = None
    capacity: int | None = None
    channels: list[str] | None = None
    paused: bool | None = None

    def revise(self, stored: Volunteer) -> domain.Profile:
        """The stored profile with these changes, checked as a whole: a ``ValidationError``
        names the field that breaks a rule."""
        changes = self.model_dump(exclude_unset=True, exclude={"paused"})
        current = presenters.pick(presenters.volunteer(stored), VolunteerIn.model_fields)
        return VolunteerIn.model_validate(current | changes).profile()


class VolunteerOut(BaseModel):
    id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None
    locale: str
    languages: list[LanguageIn]
    skills: list[str]
    location: LocationIn | None
    max_travel_km: float
    remote_ok: bool
    availability: list[WindowIn]
    timezone: str
    capacity: int
    channels: list[str]
    consent: bool
    paused: bool
    created_at: datetime


class VolunteerCreated(VolunteerOut):
    manage_token: str = Field(
        description="Shown once: keep it to view, change or delete the profile"
    )


class BeneficiaryIn(BaseModel):
    model_config = STRICT
    display_name: str = Field(min_length=1, max_length=100, examples=["Mariam"])
    locale: str = Field(examples=["ka"], description="ISO 639-1 code of their own language")
    email: EmailStr | None = None
    phone: str | None = None
    contact_consent: bool = False

    _locale = field_validator("locale")(domain.check_language_code)
    _phone = field_validator("phone")(_check_phone)


REQUEST_EXAMPLE: dict[str, Any] = {
    "beneficiary": {"display_name": "Mariam", "locale": "uk", "contact_consent": True},
    "languages": ["uk", "ru"],
    "skills": ["paperwork"],
    "location": {"lat": 52.5463, "lon": 19.7065},
    "remote_ok": False,
    "windows": [{"day": "tue", "start": "16:00", "end": "19:00"}],
    "timezone": "Europe/Warsaw",
    "urgency": "normal",
    "needed_by": "2030-01-31",
    "description": "Help to fill in the residence permit form.",
}


class RequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [REQUEST_EXAMPLE]}
    )
    beneficiary: BeneficiaryIn
    languages: list[str] = Field(min_length=1, max_length=10)
    skills: list[str] = Field(min_length=1, max_length=10)
    remote_ok: bool = False
    location: LocationIn | None = Field(default=None, validate_default=True)
    windows: list[WindowIn] = Field(min_length=1, max_length=50)
    timezone: str
    urgency: Urgency = "normal"
    needed_by: date
    description: str = Field(default="", max_length=domain.DESCRIPTION_MAX_LENGTH)

    _languages = field_validator("languages")(
        lambda values: _check_languages([domain.check_language_code(v) for v in values])
    )
    _skills = field_validator("skills")(_check_skills)
    _location = field_validator("location")(_check_location)
    _timezone = field_validator("timezone")(domain.check_timezone)

    @field_validator("needed_by")
    @classmethod
    def _needed_by(cls, value: date, info: ValidationInfo) -> date:
        if "timezone" in info.data:
            domain.check_needed_by(value, info.data["timezone"], datetime.now(UTC))
        return value

    def fingerprint(self) -> str:
        """Tells a retried POST (same body) from a different one under the same key."""
        return domain.fingerprint(self.model_dump(mode="json"))

    def new_request(self) -> domain.NewRequest:
        beneficiary = self.beneficiary
        return domain.NewRequest(
            beneficiary_display_name=beneficiary.display_name,
            beneficiary_locale=beneficiary.locale,
            beneficiary_email=str(beneficiary.email) if beneficiary.email else None,
            beneficiary_phone=beneficiary.phone,
            contact_consent=beneficiary.contact_consent,
            languages=list(self.languages),
            skills=list(self.skills),
            lat=self.location.lat if self.location else None,
            lon=self.location.lon if self.location else None,
            remote_ok=self.remote_ok,
            windows=[w.model_dump() for w in self.windows],
            timezone=self.timezone,
            urgency=self.urgency,
            needed_by=self.needed_by,
            description=self.description,
        )


class BeneficiaryOut(BaseModel):
    display_name: str
    locale: str
    email: str | None
    phone: str | None
    contact_consent: bool


class MatchOut(BaseModel):
    id: uuid.UUID
    status: str
    volunteer_first_name: str | None
    score: float
    breakdown: dict[str, float]
    reasons: list[dict[str, Any]]
    respond_by: datetime
    volunteer_contact: dict[str, str] | None = Field(
        default=None, description="Once accepted: the volunteer's email and phone"
    )


class CompleteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"rating": 5, "comment": "The form was filed on time."}]},
    )
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=domain.DESCRIPTION_MAX_LENGTH)


class RespondIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str | None = Field(default=None, description="The signed token from the offer's link")


class MatchAnswer(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    status: str


class RequestOut(BaseModel):
    id: uuid.UUID
    status: str
    beneficiary: BeneficiaryOut
    languages: list[str]
    skills: list[str]
    location: LocationIn | None
    remote_ok: bool
    windows: list[WindowIn]
    timezone: str
    urgency: Urgency
    needed_by: date
    description: str
    match: MatchOut | None = None
    offers: list[dict[str, Any]] = Field(default_factory=list)
    unmatched_reasons: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class RequestPage(BaseModel):
    items: list[RequestOut]
    total: int
    limit: int
    offset: int


class OrganisationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"name": "Płock Family Foundation", "email": "desk@example.org", "locale": "pl"}
            ]
        },
    )
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    locale: str = Field(default="en", description="ISO 639-1 code of the desk's language")

    _locale = field_validator("locale")(domain.check_language_code)


class OrganisationCreated(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    locale: str
    api_key: str = Field(description="Shown once; only its hash is stored")


class SkillOut(BaseModel):
    code: str
    labels: dict[str, str]


class ErrorItem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    detail: list[ErrorItem] | str


class AuditEntryOut(BaseModel):
    """One entry of the audit trail: ids and codes, never the personal data itself."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="Increasing; pass the last one seen as `before` for older ones")
    at: datetime
    actor_kind: domain.ActorKind
    actor_id: uuid.UUID | None
    action: domain.AuditAction
    object_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
