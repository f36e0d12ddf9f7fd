"""Housekeeping on a beat: offers nobody answered and requests past their date expire, and the
operators' gauges of waiting requests are refreshed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.registry import domain
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.metrics import (
    OLDEST_UNMATCHED_CRITICAL,
    OPEN_REQUESTS,
    UNMATCHED_REQUESTS,
    count_offer,
)
from services.registry.usecases import audit
from services.registry.usecases.published import closed_request_ids, offer_ids
from shared import events
from shared.vocabulary import Urgency

log = logging.getLogger(__name__)


async def expire_offers(uow: UnitOfWork, now: datetime | None = None, limit: int = 500) -> int:
    """Offers nobody answered in time expire; their requests go back to matching."""
    now = now or datetime.now(UTC)
    async with uow:
        overdue = await uow.matches.overdue(now, limit)
        urgencies: list[Urgency] = []
        for match in overdue:
            request = await uow.requests.get(match.request_id, lock=True)
            assert request is not None
            match.status = "expired"
            match.responded_at = now
            urgencies.append(request.urgency)
            if request.status == "proposed":
                request.status = "open"
                request.updated_at = now
            await uow.emit(events.MatchDeclined(**offer_ids(match, request), reason="expired"))
        await uow.commit()
    for urgency in urgencies:
        count_offer("expired", urgency)
    return len(overdue)


async def expire_requests(uow: UnitOfWork, limit: int = 500) -> int:
    """Requests whose ``needed_by`` passed in their own time zone, with nobody helping, expire;
    an open offer for one is withdrawn."""
    async with uow:
        overdue = await uow.requests.past_their_date(limit)
        for request in overdue:
            request.status = "expired"
            request.updated_at = datetime.now(UTC)
            match = await uow.matches.open_offer_for(request.id)
            if match is not None:
                match.status = "withdrawn"
            await uow.emit(events.RequestExpired(**closed_request_ids(request, match)))
        await uow.commit()
        return len(overdue)


async def refresh_gauges(uow: UnitOfWork, now: datetime) -> None:
    """Open and unmatched requests for the operators' dashboards; counted, never listed."""
    async with uow:
        waiting = await uow.requests.waiting_counts()
        unmatched = await uow.requests.unmatched_counts()
        oldest = await uow.requests.oldest_critical_waiting()
    # A zero row per status keeps every series on the dashboards when nothing waits.
    baseline: Urgency = "normal"
    OPEN_REQUESTS.clear()
    for status in domain.WAITING:
        OPEN_REQUESTS.labels(status, baseline, "none").set(0)
    for status, urgency, language, count in waiting:
        OPEN_REQUESTS.labels(status, urgency, language).set(count)
    UNMATCHED_REQUESTS.clear()
    UNMATCHED_REQUESTS.labels("none", baseline).set(0)
    for reason, urgency, count in unmatched:
        UNMATCHED_REQUESTS.labels(reason, urgency).set(count)
    OLDEST_UNMATCHED_CRITICAL.set((now - oldest).total_seconds() if oldest else 0.0)


async def tidy(uow: UnitOfWork, audit_retention: timedelta) -> None:
    """One round of housekeeping; a failure leaves the rest of the round to the next one."""
    expired = await expire_offers(uow)
    if expired:
        log.info("expired %d offers", expired)
    past_date = await expire_requests(uow)
    if past_date:
        log.info("%d requests passed their date unserved", past_date)
    await refresh_gauges(uow, datetime.now(UTC))
    await audit.forget_old(uow, audit_retention)
