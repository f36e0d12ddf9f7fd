"""Settings every service shares. Each service subclasses this once and builds it at its
composition root; nothing else reads the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        description="SQLAlchemy URL, e.g. postgresql+asyncpg://user:pass@host/db",
    )
    nats_url: str = Field(description="e.g. nats://127.0.0.1:4222; comma-separate a cluster")
    log_level: str = "INFO"
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
