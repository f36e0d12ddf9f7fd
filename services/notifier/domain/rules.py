"""Who hears what, when an SMS may go out, and how long to wait before trying again.

Pure rules: no I/O, every clock reading passed in.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared import events

EMAIL, SMS = "email", "sms"
VOLUNTEER, ORGANISATION, BENEFICIARY = "volunteer", "organisation", "beneficiary"
SIGN_IN_LINK = "sign_in_link"
# Messages the recipient asked for themselves: their channel preferences, which are about
# offers and news, do not stop them.
ASKED_FOR: frozenset[str] = frozenset({SIGN_IN_LINK})


# Rows left in 'sending' longer than this belong to a process that died mid-call.
STUCK_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 5.0
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8


@dataclass(frozen=True)
class Planned:
    """One message to send because of one event."""

    kind: str
    channel: str
    recipient: str
    request_id: uuid.UUID | None
    match_id: uuid.UUID | None = None
    volunteer_id: uuid.UUID | None = None
    critical: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def key(self, event_id: uuid.UUID) -> str:
        """Unique per (event, recipient, channel, kind): the guard against sending twice."""
        who = self.volunteer_id if self.recipient == VOLUNTEER else self.request_id
        return f"{event_id}:{self.recipient}:{who}:{self.channel}:{self.kind}"


def plan(event: events.Event) -> list[Planned]:
    """The messages an event calls for. Channels a recipient cannot or will not receive are
    decided at send time, from their current contact details and preferences."""
    match event:
        case events.MatchProposed():
            return [
                Planned(
                    "offer",
                    channel,
                    VOLUNTEER,
                    event.request_id,
                    event.match_id,
                    event.volunteer_id,
                    critical=event.urgency == "critical",
                )
                for channel in (EMAIL, SMS)
            ]
        case events.MatchAccepted():
            to_organisation = Planned(
                "match_accepted_organisation", EMAIL, ORGANISATION, event.request_id, event.match_id
            )
            to_beneficiary = [
                Planned(
                    "match_accepted_beneficiary",
                    channel,
                    BENEFICIARY,
                    event.request_id,
                    event.match_id,
                )
                for channel in (EMAIL, SMS)
            ]
            return [to_organisation, *to_beneficiary]
        case events.MatchDeclined():
            return [
                Planned(
                    "offer_declined_organisation",
                    EMAIL,
                    ORGANISATION,
                    event.request_id,
                    event.match_id,
                    params={"outcome": event.reason},
                )
            ]
        case events.RequestUnmatched():
            return [
                Planned(
                    "request_unmatched_organisation",
                    EMAIL,
                    ORGANISATION,
                    event.request_id,
                    params={"reasons": [r.model_dump(mode="json") for r in event.reasons]},
                )
            ]
        case events.VolunteerSignInRequested():
            # Email only: a link that opens a profile does not go to a phone number, which
            # changes hands more easily than a mailbox. Critical: the volunteer is waiting.
            expires_at = whole_seconds(event.expires_at)
            return [
                Planned(
                    SIGN_IN_LINK,
                    EMAIL,
                    VOLUNTEER,
                    None,
                    volunteer_id=event.volunteer_id,
                    critical=True,
                    params={"expires_at": expires_at.isoformat(), "welcome": event.welcome},
                )
            ]
        case events.RequestCancelled() if event.volunteer_id is not None:
            return [
                Planned(
                    "offer_withdrawn",
                    channel,
                    VOLUNTEER,
                    event.request_id,
                    event.match_id,
                    event.volunteer_id,
                )
                for channel in (EMAIL, SMS)
            ]
    return []


def whole_seconds(value: datetime) -> datetime:
    """An instant in UTC without its fraction of a second (a naive value is taken as UTC): a
    sign-in link carries its expiry as whole Unix seconds, and its signature covers them."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(aware.timestamp()), UTC)


def link_expires_at(params: dict[str, Any]) -> datetime:
    """When the sign-in link of a planned message stops working."""
    return whole_seconds(datetime.fromisoformat(params["expires_at"]))


def reason_not_to_send(
    kind: str, context: dict[str, Any], params: dict[str, Any], now: datetime
) -> str | None:
    """Why a message planned earlier should no longer go out, judged at send time; None if
    it should."""
    if kind == "offer":
        status = (context.get("match") or {}).get("status")
        if status != "proposed":
            return f"the offer is {status}"
    if kind == SIGN_IN_LINK:
        if now > link_expires_at(params):
            return "the link expired before it could be sent"
        if not context.get("sign_in_url"):
            return "the registry gave no link"
    return None


def quiet_until(now: datetime, timezone: str, start_hour: int, end_hour: int) -> datetime | None:
    """If ``now`` falls in the recipient's quiet hours, when they end (UTC); else None."""
    local = now.astimezone(ZoneInfo(timezone))
    hour = local.hour
    quiet = (
        (start_hour <= hour or hour < end_hour)
        if start_hour > end_hour
        else start_hour <= hour < end_hour
    )
    if not quiet:
        return None
    morning = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    # Built from the local wall clock, so a daylight-saving change overnight is respected.
    wake = datetime.combine(morning, time(end_hour), tzinfo=ZoneInfo(timezone))
    return wake.astimezone(now.tzinfo)


def backoff(attempt: int, base_seconds: float, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: spreads retries so a recovering server is not
    hit by every waiting message at once."""
    ceiling = base_seconds * (2 ** max(attempt - 1, 0))
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


def template_context(
    kind: str, context: dict[str, Any], params: dict[str, Any], short_links: bool = False
) -> dict[str, Any]:
    """Turn the registry's look-up and the event's codes into what the template needs.
    ``short_links``: an SMS carries the registry's short links, leaving room for words."""
    if kind == SIGN_IN_LINK:
        return {
            "volunteer_first_name": (context.get("volunteer") or {}).get("first_name") or "",
            "sign_in_url": context["sign_in_url"],
            "expires_at": link_expires_at(params),
            "welcome": bool(params.get("welcome")),
        }
    request = context["request"]
    organisation = context["organisation"]
    volunteer = context.get("volunteer") or {}
    match = context.get("match") or {}
    beneficiary = request["beneficiary"]
    needed_by = datetime.fromisoformat(request["needed_by"]).date()
    common = {
        "organisation_name": organisation["name"],
        "skills": request["skills"],
        "needed_by": needed_by,
    }
    if kind == "offer":
        distance = next(
            (r.get("km") for r in match.get("reasons", []) if r.get("code") == "distance"), None
        )
        return common | {
            "volunteer_first_name": volunteer.get("first_name") or "",
            "languages": request["languages"],
            "urgency": request["urgency"],
            "remote": request["remote"],
            "distance_km": distance,
            "reasons": match.get("reasons", []),
            "accept_url": match["accept_short_url" if short_links else "accept_url"],
            "decline_url": match["decline_short_url" if short_links else "decline_url"],
            "respond_by": datetime.fromisoformat(match["respond_by"]),
        }
    if kind == "offer_withdrawn":
        return common | {"volunteer_first_name": volunteer.get("first_name") or ""}
    if kind == "match_accepted_organisation":
        contact = {k: volunteer[k] for k in ("email", "phone") if volunteer.get(k)}
        return common | {
            "request_reference": request["reference"],
            "beneficiary_display_name": beneficiary["display_name"],
            "volunteer_first_name": volunteer.get("first_name") or "",
            "volunteer_contact": contact,
            "how_to_meet": None,
        }
    if kind == "match_accepted_beneficiary":
        return common | {
            "beneficiary_display_name": beneficiary["display_name"],
            "volunteer_first_name": volunteer.get("first_name") or "",
        }
    if kind == "offer_declined_organisation":
        return {
            "organisation_name": organisation["name"],
            "request_reference": request["reference"],
            "beneficiary_display_name": beneficiary["display_name"],
            "outcome": params.get("outcome", "declined"),
            "next_step": "searching",
        }
    if kind == "request_unmatched_organisation":
        return {
            "organisation_name": organisation["name"],
            "request_reference": request["reference"],
            "beneficiary_display_name": beneficiary["display_name"],
            "reasons": params.get("reasons", []),
        }
    raise KeyError(kind)


@dataclass(frozen=True)
class Recipient:
    """Where one message goes, resolved at send time; ``address`` None means: do not send."""

    address: str | None
    locale: str
    timezone: str
    skip_reason: str | None = None


def recipient(
    planned_recipient: str, channel: str, context: dict[str, Any], kind: str = ""
) -> Recipient:
    # A sign-in link concerns no request: the volunteer's own details are all there is.
    request = context.get("request") or {"timezone": "UTC"}
    if planned_recipient == VOLUNTEER:
        volunteer = context.get("volunteer") or {}
        locale, timezone = (
            volunteer.get("locale", "en"),
            volunteer.get("timezone", request["timezone"]),
        )
        if volunteer.get("erased"):
            return Recipient(None, locale, timezone, "the volunteer erased their data")
        if channel not in volunteer.get("channels", [EMAIL, SMS]) and kind not in ASKED_FOR:
            return Recipient(None, locale, timezone, f"the volunteer opted out of {channel}")
        address = volunteer.get("email") if channel == EMAIL else volunteer.get("phone")
        return Recipient(address, locale, timezone, None if address else f"no {channel} address")
    if planned_recipient == ORGANISATION:
        organisation = context["organisation"]
        return Recipient(
            organisation["email"], organisation.get("locale", "en"), request["timezone"]
        )
    beneficiary = request["beneficiary"]
    locale = beneficiary["locale"]
    if not beneficiary.get("contact_consent"):
        return Recipient(None, locale, request["timezone"], "no contact consent")
    address = beneficiary.get("email") if channel == EMAIL else beneficiary.get("phone")
    return Recipient(
        address, locale, request["timezone"], None if address else f"no {channel} address"
    )
