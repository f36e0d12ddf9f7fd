"""The registry's metrics: HTTP, requests and offers as the system of record sees them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import HUMAN_BUCKETS
from shared.vocabulary import MatchStatus, Urgency

HTTP_REQUESTS = Counter(
    "involvim_http_requests_total",
    "HTTP requests answered by the registry",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "involvim_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)
REQUESTS_SUBMITTED = Counter(
    "involvim_requests_submitted_total",
    "Support requests submitted, once per needed skill",
    ["urgency", "skill"],
)
MATCH_TRANSITIONS = Counter(
    "involvim_matches_total",
    "Offers by what became of them: proposed, accepted, declined, expired, completed, withdrawn, cancelled",
    ["outcome", "urgency"],
)
TIME_TO_PROPOSAL = Histogram(
    "involvim_time_to_proposal_seconds",
    "From submission to the first offer",
    ["urgency"],
    buckets=HUMAN_BUCKETS,
)
TIME_TO_ACCEPTANCE = Histogram(
    "involvim_time_to_acceptance_seconds",
    "From an offer to its acceptance",
    ["urgency"],
    buckets=HUMAN_BUCKETS,
)
OPEN_REQUESTS = Gauge(
    "involvim_open_requests",
    "Requests waiting for a volunteer, by status, urgency and language",
    ["status", "urgency", "language"],
)
UNMATCHED_REQUESTS = Gauge(
    "involvim_unmatched_requests",
    "Unmatched requests by the main reason nobody fits",
    ["reason", "urgency"],
)
OLDEST_UNMATCHED_CRITICAL = Gauge(
    "involvim_oldest_unmatched_critical_request_age_seconds",
    "How long the oldest critical request has waited without an offer (0 when none)",
)


def count_offer(outcome: MatchStatus, urgency: Urgency) -> None:
    """An offer reached ``outcome``."""
    MATCH_TRANSITIONS.labels(outcome, urgency).inc()
