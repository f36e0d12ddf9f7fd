"""Every service's migration chain: the whole system's schema in one call."""

from __future__ import annotations

from pathlib import Path

import services
from shared import migrations

SERVICES = ("matcher", "notifier", "registry")
SERVICES_DIR = Path(services.__file__).resolve().parent


def upgrade(database_url: str) -> None:
    migrations.upgrade(
        database_url, {service: SERVICES_DIR / service / "migrations" for service in SERVICES}
    )
