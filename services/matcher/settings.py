from __future__ import annotations

from pydantic import Field

from services.matcher.domain.model import Weights
from shared.settings import ServiceSettings


class MatcherSettings(ServiceSettings):
    matcher_host: str = "127.0.0.1"
    matcher_metrics_port: int = 9101
    # Micro-batches: up to this many waiting requests, gathered for this long after a change.
    matcher_batch_size: int = Field(default=200, ge=1, le=5000)
    matcher_batch_window_ms: int = Field(default=50, ge=0, le=10_000)
    matcher_idle_poll_seconds: float = Field(default=2.0, gt=0)
    # Score weights; the five should sum to 1 so that scores stay in [0, 1].
    matcher_weight_language: float = Field(default=0.30, ge=0, le=1)
    matcher_weight_skills: float = Field(default=0.20, ge=0, le=1)
    matcher_weight_distance: float = Field(default=0.20, ge=0, le=1)
    matcher_weight_availability: float = Field(default=0.15, ge=0, le=1)
    matcher_weight_load: float = Field(default=0.15, ge=0, le=1)

    def weights(self) -> Weights:
        return Weights(
            language=self.matcher_weight_language,
            skills=self.matcher_weight_skills,
            distance=self.matcher_weight_distance,
            availability=self.matcher_weight_availability,
            load=self.matcher_weight_load,
        )
