from alembic import context

from services.registry.adapters.orm import Base
from shared.migrations import run_env

run_env(context, Base.metadata)
