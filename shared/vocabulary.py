"""The words of the domain, each defined once: every service, page, message, benchmark and demo
takes its codes from here. Each is a ``Literal`` type for pydantic and mypy, with the tuple of
its values derived from it (in the order shown to people)."""

from __future__ import annotations

from typing import Final, Literal, get_args

# How well someone speaks a language, strongest first.
Level = Literal["native", "fluent", "conversational", "basic"]
LEVELS: Final[tuple[Level, ...]] = get_args(Level)

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: Final[tuple[Day, ...]] = get_args(Day)

# How soon a request needs someone, least urgent first.
Urgency = Literal["low", "normal", "high", "critical"]
URGENCIES: Final[tuple[Urgency, ...]] = get_args(Urgency)

# A support request's life: open -> proposed -> accepted -> completed, with side exits.
RequestStatus = Literal[
    "open", "proposed", "accepted", "completed", "unmatched", "cancelled", "expired"
]
REQUEST_STATUSES: Final[tuple[RequestStatus, ...]] = get_args(RequestStatus)
FINAL_REQUEST_STATUSES: Final[frozenset[RequestStatus]] = frozenset(
    {"completed", "cancelled", "expired"}
)

# An offer (match) of one volunteer for one request.
MatchStatus = Literal[
    "proposed", "accepted", "declined", "expired", "completed", "withdrawn", "cancelled"
]
MATCH_STATUSES: Final[tuple[MatchStatus, ...]] = get_args(MatchStatus)
# Offers that hold one of the volunteer's places.
ACTIVE_MATCH_STATUSES: Final[frozenset[MatchStatus]] = frozenset({"proposed", "accepted"})

# Why an offer left the proposed state without an acceptance.
DeclineReason = Literal["declined", "expired"]

# Why a request has no volunteer: the constraints in the order the matcher applies them, then
# the reasons that concern the whole pool.
UnmatchedCode = Literal[
    "out_of_reach",
    "no_shared_language",
    "missing_skill",
    "previously_offered",
    "no_capacity",
    "no_time_overlap",
    "no_volunteers",
    "paused_or_excluded",
]
UNMATCHED_CODES: Final[tuple[UnmatchedCode, ...]] = get_args(UnmatchedCode)
# The constraints alone, in the order they are checked (the first failed one is the reason).
CONSTRAINT_CODES: Final[tuple[UnmatchedCode, ...]] = UNMATCHED_CODES[:6]

# Why a volunteer fits a request.
FitCode = Literal[
    "shared_language", "speaks_locale", "skills", "distance", "remote", "available", "load"
]
FIT_CODES: Final[tuple[FitCode, ...]] = get_args(FitCode)

ReasonCode = FitCode | UnmatchedCode

# What a message is about (one template set each).
NotificationKind = Literal[
    "offer",
    "offer_withdrawn",
    "match_accepted_organisation",
    "match_accepted_beneficiary",
    "offer_declined_organisation",
    "request_unmatched_organisation",
    "sign_in_link",
]
NOTIFICATION_KINDS: Final[tuple[NotificationKind, ...]] = get_args(NotificationKind)

Channel = Literal["email", "sms"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
