from alembic import context

from services.notifier.adapters.orm import metadata
from shared.migrations import run_env

run_env(context, metadata)
