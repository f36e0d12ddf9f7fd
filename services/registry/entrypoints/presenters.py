"""One presenter per thing the registry shows: a volunteer, a request, an offer.

Each turns a stored record into plain values (ids, dates and times as Python objects), named and
shaped once; the API's bodies, the notifier's contact look-up, the volunteer's data download and
the pages each take the fields they may show from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.registry import domain
from services.registry.adapters.orm import Match, Organisation, SupportRequest, Volunteer
from services.registry.usecases.requests import RequestView


def pick(shown: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only ``fields`` of a presented record, in the order given."""
    return {field: shown[field] for field in fields}


def location(lat: float | None, lon: float | None) -> dict[str, float] | None:
    return {"lat": lat, "lon": lon} if lat is not None and lon is not None else None


# --- volunteers -----------------------------------------------------------------------------

# What the volunteer's own data download holds, in this order.
DOWNLOAD_FIELDS = (
    "id",
    "name",
    "email",
    "phone",
    "locale",
    "languages",
    "skills",
    "location",
    "max_travel_km",
    "remote_ok",
    "availability",
    "timezone",
    "capacity",
    "channels",
    "consent",
    "paused",
    "created_at",
    "updated_at",
)


def volunteer(v: Volunteer) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "first_name": domain.first_name(v.name),
        "email": v.email,
        "phone": v.phone,
        "locale": v.locale,
        "languages": v.languages,
        "skills": v.skills,
        "location": location(v.lat, v.lon),
        "max_travel_km": v.max_travel_km,
        "remote_ok": v.remote_ok,
        "availability": v.availability,
        "timezone": v.timezone,
        "capacity": v.capacity,
        "channels": v.channels,
        "consent": v.consent,
        "paused": v.paused,
        "erased": v.erased_at is not None,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
    }


# --- requests -------------------------------------------------------------------------------


def request(r: SupportRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        # What people quote: the first eight characters of the id.
        "reference": str(r.id)[:8],
        "status": r.status,
        "beneficiary": {
            "display_name": r.beneficiary_display_name,
            "locale": r.beneficiary_locale,
            "email": r.beneficiary_email,
            "phone": r.beneficiary_phone,
            "contact_consent": r.contact_consent,
        },
        "languages": r.languages,
        "skills": r.skills,
        "location": location(r.lat, r.lon),
        "remote_ok": r.remote_ok,
        "windows": r.windows,
        "timezone": r.timezone,
        "urgency": r.urgency,
        "needed_by": r.needed_by,
        "description": r.description,
        "unmatched_reasons": r.unmatched_reasons,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def request_with_offers(view: RequestView) -> dict[str, Any]:
    """A request for its organisation: every offer made for it, and the active one as
    ``match``."""
    return {
        **request(view.request),
        "match": offer(*view.active) if view.active else None,
        "offers": [offer(match, volunteer) for match, volunteer in view.offers],
    }


SUMMARY_FIELDS = (
    "id",
    "reference",
    "status",
    "skills",
    "languages",
    "urgency",
    "needed_by",
    "timezone",
)


def request_summary(r: SupportRequest) -> dict[str, Any]:
    """What a message about the request may say: the beneficiary's contact details only with
    their consent."""
    shown = request(r)
    beneficiary = shown["beneficiary"]
    consent = beneficiary["contact_consent"]
    return {
        **pick(shown, SUMMARY_FIELDS),
        "remote": shown["location"] is None,
        "beneficiary": {
            **beneficiary,
            "email": beneficiary["email"] if consent else None,
            "phone": beneficiary["phone"] if consent else None,
        },
    }


def organisation(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "email": org.email, "locale": org.locale}


# --- offers ---------------------------------------------------------------------------------


def offer(match: Match, volunteer: Volunteer | None = None) -> dict[str, Any]:
    """An offer; with the volunteer asked, their first name, and once they accepted, how the
    organisation reaches them."""
    shown: dict[str, Any] = {
        "id": match.id,
        "request_id": match.request_id,
        "status": match.status,
        "score": match.score,
        "breakdown": match.breakdown,
        "reasons": match.reasons,
        "proposed_at": match.proposed_at,
        "respond_by": match.respond_by,
        "responded_at": match.responded_at,
    }
    if volunteer is not None:
        shown["volunteer_first_name"] = domain.first_name(volunteer.name)
        shown["volunteer_contact"] = (
            {k: v for k, v in (("email", volunteer.email), ("phone", volunteer.phone)) if v}
            if match.status == "accepted"
            else None
        )
    return shown


def offer_record(shown: Mapping[str, Any]) -> dict[str, Any]:
    """Who was asked, when and with what outcome: first names only, never contact details."""
    return {
        "match_id": str(shown["id"]),
        "volunteer_first_name": shown["volunteer_first_name"],
        "proposed_at": shown["proposed_at"].isoformat(),
        "respond_by": shown["respond_by"].isoformat(),
        "outcome": shown["status"],
        "responded_at": shown["responded_at"].isoformat() if shown["responded_at"] else None,
        "score": shown["score"],
    }


def offer_links(match: Match, public_base_url: str, link_secret: str) -> dict[str, str]:
    """The signed accept and decline links of an open offer, long (email) and short (SMS)."""
    base = public_base_url.rstrip("/")
    links = {}
    for action in domain.ACTIONS:
        token = domain.sign_link(link_secret, match.id, action, match.respond_by)
        links[f"{action}_url"] = f"{base}/offers/{match.id}/{action}?token={token}"
        code = domain.short_code(link_secret, match.id, action, match.respond_by)
        links[f"{action}_short_url"] = f"{base}/o/{code}"
    return links
