"""notifications without a request (a sign-in link concerns only a volunteer)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "notifications", "request_id", existing_type=sa.UUID(), nullable=True, schema="notifier"
    )


def downgrade() -> None:
    # Rows about no request cannot satisfy the old constraint; they go with it.
    op.execute("DELETE FROM notifier.notifications WHERE request_id IS NULL")
    op.alter_column(
        "notifications", "request_id", existing_type=sa.UUID(), nullable=False, schema="notifier"
    )
