"""At send time: where a message goes, whether it still should, when an SMS may go out, and how
long to wait before trying again. Judged on the registry's answer as it is at that moment."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from services.notifier.domain.notification import Audience
from services.notifier.domain.planning import link_expires_at
from shared.contacts import RequestContext, SignInContext, VolunteerContact
from shared.vocabulary import Channel, NotificationKind

# What the registry tells about the people one message concerns.
Contacts = RequestContext | SignInContext

# Messages the recipient asked for themselves: their channel preferences, which are about
# offers and news, do not stop them.
ASKED_FOR: Final[frozenset[NotificationKind]] = frozenset({"sign_in_link"})
# Rows left in 'sending' longer than this belong to a process that died mid-call.
STUCK_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 5.0
    # No SMS between these local hours unless the message is critical.
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8


@dataclass(frozen=True)
class Recipient:
    """Where one message goes, resolved at send time; ``address`` None means: do not send."""

    address: str | None
    locale: str
    timezone: str
    skip_reason: str | None = None


def recipient(
    audience: Audience, channel: Channel, contacts: Contacts, kind: NotificationKind | None = None
) -> Recipient:
    if audience == "volunteer":
        # A sign-in link concerns no request: the volunteer's own details are all there is.
        zone = contacts.request.timezone if isinstance(contacts, RequestContext) else "UTC"
        return _volunteer(contacts.volunteer, channel, kind, zone)
    if not isinstance(contacts, RequestContext):
        raise ValueError(f"a message to the {audience} needs a request")
    request = contacts.request
    if audience == "organisation":
        organisation = contacts.organisation
        return Recipient(organisation.email, organisation.locale, request.timezone)
    beneficiary = request.beneficiary
    locale = beneficiary.locale
    if not beneficiary.contact_consent:
        return Recipient(None, locale, request.timezone, "no contact consent")
    address = beneficiary.email if channel == "email" else beneficiary.phone
    return Recipient(
        address, locale, request.timezone, None if address else f"no {channel} address"
    )


def _volunteer(
    volunteer: VolunteerContact | None,
    channel: Channel,
    kind: NotificationKind | None,
    request_zone: str,
) -> Recipient:
    if volunteer is None:
        return Recipient(None, "en", request_zone, f"no {channel} address")
    locale, timezone = volunteer.locale, volunteer.timezone
    if volunteer.erased:
        return Recipient(None, locale, timezone, "the volunteer erased their data")
    if channel not in volunteer.channels and kind not in ASKED_FOR:
        return Recipient(None, locale, timezone, f"the volunteer opted out of {channel}")
    address = volunteer.email if channel == "email" else volunteer.phone
    return Recipient(address, locale, timezone, None if address else f"no {channel} address")


def reason_not_to_send(
    kind: NotificationKind, contacts: Contacts, params: dict[str, Any], now: datetime
) -> str | None:
    """Why a message planned earlier should no longer go out, judged at send time; None if
    it should."""
    if kind == "offer":
        match = contacts.match if isinstance(contacts, RequestContext) else None
        status = match.status if match is not None else None
        if status != "proposed":
            return f"the offer is {status}"
    if kind == "sign_in_link":
        if now > link_expires_at(params):
            return "the link expired before it could be sent"
        if not (isinstance(contacts, SignInContext) and contacts.sign_in_url):
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
