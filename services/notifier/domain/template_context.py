"""What a message's templates are given: the registry's answer and the event's codes, turned
into the values each kind of message needs."""

from __future__ import annotations

from typing import Any

from services.notifier.domain.planning import link_expires_at
from services.notifier.domain.sending import Contacts
from shared.contacts import MatchSummary, RequestContext, SignInContext
from shared.vocabulary import NotificationKind


def template_context(
    kind: NotificationKind, contacts: Contacts, params: dict[str, Any], short_links: bool = False
) -> dict[str, Any]:
    """``short_links``: an SMS carries the registry's short links, leaving room for words."""
    if kind == "sign_in_link":
        if not isinstance(contacts, SignInContext):
            raise ValueError("a sign-in link needs the registry's sign-in answer")
        return {
            "volunteer_first_name": contacts.volunteer.first_name or "",
            "sign_in_url": contacts.sign_in_url,
            "expires_at": link_expires_at(params),
            "welcome": bool(params.get("welcome")),
        }
    if not isinstance(contacts, RequestContext):
        raise ValueError(f"a message of kind {kind} needs a request")
    request, organisation = contacts.request, contacts.organisation
    volunteer, match = contacts.volunteer, contacts.match
    # An erased volunteer has no name any more: they are greeted without one.
    first_name = (volunteer.first_name if volunteer is not None else None) or ""
    beneficiary = request.beneficiary
    common = {
        "organisation_name": organisation.name,
        "skills": request.skills,
        "needed_by": request.needed_by,
    }
    if kind == "offer":
        if match is None:
            raise ValueError("an offer needs its match")
        reasons = match.reasons
        distance = next((r.get("km") for r in reasons if r.get("code") == "distance"), None)
        accept_url, decline_url = _answer_links(match, short_links)
        return common | {
            "volunteer_first_name": first_name,
            "languages": request.languages,
            "urgency": request.urgency,
            "remote": request.remote,
            "distance_km": distance,
            "reasons": reasons,
            "accept_url": accept_url,
            "decline_url": decline_url,
            "respond_by": match.respond_by,
        }
    if kind == "offer_withdrawn":
        return common | {"volunteer_first_name": first_name}
    if kind == "match_accepted_organisation":
        shared = {"email": volunteer.email, "phone": volunteer.phone} if volunteer else {}
        return common | {
            "request_reference": request.reference,
            "beneficiary_display_name": beneficiary.display_name,
            "volunteer_first_name": first_name,
            "volunteer_contact": {key: value for key, value in shared.items() if value},
            "how_to_meet": None,
        }
    if kind == "match_accepted_beneficiary":
        return common | {
            "beneficiary_display_name": beneficiary.display_name,
            "volunteer_first_name": first_name,
        }
    if kind == "offer_declined_organisation":
        return {
            "organisation_name": organisation.name,
            "request_reference": request.reference,
            "beneficiary_display_name": beneficiary.display_name,
            "outcome": params.get("outcome", "declined"),
            "next_step": "searching",
        }
    if kind == "request_unmatched_organisation":
        return {
            "organisation_name": organisation.name,
            "request_reference": request.reference,
            "beneficiary_display_name": beneficiary.display_name,
            "reasons": params.get("reasons", []),
        }
    raise KeyError(kind)


def _answer_links(match: MatchSummary, short: bool) -> tuple[str, str]:
    """The offer's signed accept and decline links; the registry signs them only while the
    offer can still be answered, which was checked before."""
    if short:
        accept, decline = match.accept_short_url, match.decline_short_url
    else:
        accept, decline = match.accept_url, match.decline_url
    if accept is None or decline is None:
        raise ValueError("the registry gave no links to answer the offer")
    return accept, decline
