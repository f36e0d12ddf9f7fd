from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    notifier_host: str = "127.0.0.1"
    notifier_metrics_port: int = 9102
    # Where contact details are looked up at send time (internal endpoint, service token).
    registry_url: str = "http://127.0.0.1:8000"
    service_token: str = Field(min_length=16)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 15.0
    email_from: str = "INVOLVIM Match <match@localhost>"

    sms_provider: Literal["twilio", "log"] = "log"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    sms_timeout_seconds: float = 10.0
    sms_log_file: str | None = Field(default=None, description="log provider: append SMS here")

    # Retries: exponential backoff with jitter, a bounded number of attempts.
    delivery_max_attempts: int = Field(default=6, ge=1, le=20)
    delivery_backoff_seconds: float = Field(default=5.0, gt=0)
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    delivery_concurrency: int = Field(default=10, ge=1, le=100)
    # No SMS between these local hours unless the request is critical.
    quiet_hours_start: int = Field(default=21, ge=0, le=23)
    quiet_hours_end: int = Field(default=8, ge=0, le=23)
