"""run admission: ready_at and waiting_since on sync_runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ready_at",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "waiting_since",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
    # Runs queued before the upgrade keep their place: they became ready when created.
    op.execute("UPDATE sync_runs SET ready_at = created_at")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "ready_at",
            existing_type=advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
            nullable=False,
        )
        batch_op.create_index(
            "ix_sync_runs_user_status_ready", ["user_id", "status", "ready_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_user_status_ready")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("ready_at")
