from __future__ import annotations

from shared.settings import ServiceSettings


class MatcherSettings(ServiceSettings):
    matcher_host: str = "127.0.0.1"
    matcher_metrics_port: int = 9101
