"""The parts the registry's events share, taken from its records in one way."""

from __future__ import annotations

import uuid
from typing import TypedDict

from services.registry import domain
from services.registry.adapters.orm import Match, SupportRequest
from shared import events


class OfferIds(TypedDict):
    match_id: uuid.UUID
    request_id: uuid.UUID
    volunteer_id: uuid.UUID
    organisation_id: uuid.UUID


class ClosedRequestIds(TypedDict):
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    # The offer the request's end withdrew or called off, if there was one.
    match_id: uuid.UUID | None
    volunteer_id: uuid.UUID | None


def offer_ids(match: Match, request: SupportRequest) -> OfferIds:
    return {
        "match_id": match.id,
        "request_id": request.id,
        "volunteer_id": match.volunteer_id,
        "organisation_id": request.organisation_id,
    }


def closed_request_ids(request: SupportRequest, match: Match | None) -> ClosedRequestIds:
    return {
        "request_id": request.id,
        "organisation_id": request.organisation_id,
        "match_id": match.id if match else None,
        "volunteer_id": match.volunteer_id if match else None,
    }


def rounded_location(lat: float | None, lon: float | None) -> events.Location | None:
    if lat is None or lon is None:
        return None
    return events.Location(lat=domain.round_coordinate(lat), lon=domain.round_coordinate(lon))
