from __future__ import annotations

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    notifier_host: str = "127.0.0.1"
    notifier_metrics_port: int = 9102
