"""Every Prometheus metric of the project, in one place, so dashboards and code agree.

Labels are bounded codes (urgency, skill, language, channel, locale, reason codes); never ids,
names or free text. Durations that span minutes to days use ``HUMAN_BUCKETS``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
HUMAN_BUCKETS = (
    10.0, 30.0, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR,
    12 * HOUR, DAY, 2 * DAY, 4 * DAY, 7 * DAY, 14 * DAY,
)  # fmt: skip

# --- registry -------------------------------------------------------------------------------

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

# --- every service --------------------------------------------------------------------------

OUTBOX_BACKLOG = Gauge("involvim_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "involvim_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when empty)",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "involvim_consumer_pending_messages",
    "Messages not yet delivered to a durable consumer",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "involvim_consumer_ack_pending_messages",
    "Messages delivered but not yet acknowledged",
    ["consumer"],
)
CONSUMER_LAST_ACTIVE = Gauge(
    "involvim_consumer_last_active_timestamp_seconds",
    "When the consumer last acknowledged a message (from JetStream's ack floor)",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "involvim_dead_letters_total",
    "Messages moved to the dead-letter stream",
    ["service", "subject", "reason"],
)

# --- matcher --------------------------------------------------------------------------------

MATCHER_BATCH_SECONDS = Histogram(
    "involvim_matcher_batch_seconds",
    "Time to match one micro-batch (retrieval, scoring, assignment, booking)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MATCHER_PROPOSALS = Counter("involvim_matcher_proposals_total", "Matches proposed", ["urgency"])
MATCHER_UNMATCHED = Counter(
    "involvim_matcher_unmatched_total",
    "Requests found unmatched, by the main reason",
    ["reason", "urgency"],
)
MATCHER_BOOKING_CONFLICTS = Counter(
    "involvim_matcher_booking_conflicts_total", "Slots taken by another matcher process first"
)
MATCH_SCORE = Histogram(
    "involvim_match_score",
    "Score of proposed matches",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
MATCH_DISTANCE_KM = Histogram(
    "involvim_match_distance_km",
    "Distance of in-person matches",
    buckets=(0.5, 1, 2, 5, 10, 20, 50),
)
VOLUNTEER_LOAD_AT_PROPOSAL = Histogram(
    "involvim_volunteer_load_at_proposal_ratio",
    "Share of a volunteer's capacity already in use when they were proposed (fairness)",
    buckets=(0.0, 0.25, 0.5, 0.75, 1.0),
)
VOLUNTEERS = Gauge("involvim_volunteers", "Volunteers known to the matcher, by state", ["state"])
VOLUNTEER_ACTIVE_MATCHES = Gauge(
    "involvim_volunteer_active_matches", "Active matches over all volunteers"
)
VOLUNTEER_CAPACITY = Gauge("involvim_volunteer_capacity", "Capacity over all available volunteers")

# --- notifier -------------------------------------------------------------------------------

NOTIFICATIONS = Counter(
    "involvim_notifications_total",
    "Notifications by outcome (sent, failed, unknown, skipped, retry)",
    ["channel", "kind", "locale", "outcome", "reason"],
)
NOTIFICATIONS_HELD = Gauge("involvim_notifications_held", "SMS held for quiet hours")
