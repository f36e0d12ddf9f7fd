"""The matcher's metrics: batches, proposals, unmatched requests and the volunteer pool."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
