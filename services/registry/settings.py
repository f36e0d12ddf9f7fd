from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    registry_host: str = "127.0.0.1"
    registry_port: int = 8000
    admin_api_key: str = Field(min_length=16, description="Operator key for POST /v1/organisations")
    public_base_url: str = "http://127.0.0.1:8000"
    service_token: str = Field(min_length=16, description="Notifier -> registry contact look-ups")
    link_secret: str = Field(min_length=16, description="Signs accept/decline links")
    # How long a volunteer has to answer an offer before it goes to the next one.
    offer_ttl_seconds: int = Field(default=48 * 3600, ge=1)
    offer_ttl_critical_seconds: int = Field(default=4 * 3600, ge=1)
    offer_expiry_check_seconds: float = Field(default=10.0, gt=0)
    # How long the audit trail keeps an entry (ids and action codes only).
    audit_retention_days: int = Field(default=730, ge=1, le=3650)
