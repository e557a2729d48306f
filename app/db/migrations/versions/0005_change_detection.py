"""change detection before fetch: each target file's change marker, skipped fetches on runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("target_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_marker", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("change_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("change_schedule_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "fully_fetched_at",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fetch_skipped", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("change_detection", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("change_detection")
        batch_op.drop_column("fetch_skipped")
    with op.batch_alter_table("target_files", schema=None) as batch_op:
        batch_op.drop_column("fully_fetched_at")
        batch_op.drop_column("change_schedule_id")
        batch_op.drop_column("change_fingerprint")
        batch_op.drop_column("change_marker")
