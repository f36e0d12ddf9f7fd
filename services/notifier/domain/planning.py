"""Who hears what: the messages an event calls for, each recorded once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.notifier.domain.notification import Audience
from shared import events
from shared.vocabulary import CHANNELS, Channel, NotificationKind


@dataclass(frozen=True)
class Planned:
    """One message to send because of one event."""

    kind: NotificationKind
    channel: Channel
    recipient: Audience
    request_id: uuid.UUID | None
    match_id: uuid.UUID | None = None
    volunteer_id: uuid.UUID | None = None
    critical: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def key(self, event_id: uuid.UUID) -> str:
        """Unique per (event, recipient, channel, kind): the guard against sending twice."""
        who = self.volunteer_id if self.recipient == "volunteer" else self.request_id
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
                    "volunteer",
                    event.request_id,
                    event.match_id,
                    event.volunteer_id,
                    critical=event.urgency == "critical",
                )
                for channel in CHANNELS
            ]
        case events.MatchAccepted():
            to_organisation = Planned(
                "match_accepted_organisation",
                "email",
                "organisation",
                event.request_id,
                event.match_id,
            )
            to_beneficiary = [
                Planned(
                    "match_accepted_beneficiary",
                    channel,
                    "beneficiary",
                    event.request_id,
                    event.match_id,
                )
                for channel in CHANNELS
            ]
            return [to_organisation, *to_beneficiary]
        case events.MatchDeclined():
            return [
                Planned(
                    "offer_declined_organisation",
                    "email",
                    "organisation",
                    event.request_id,
                    event.match_id,
                    params={"outcome": event.reason},
                )
            ]
        case events.RequestUnmatched():
            return [
                Planned(
                    "request_unmatched_organisation",
                    "email",
                    "organisation",
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
                    "sign_in_link",
                    "email",
                    "volunteer",
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
                    "volunteer",
                    event.request_id,
                    event.match_id,
                    event.volunteer_id,
                )
                for channel in CHANNELS
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
