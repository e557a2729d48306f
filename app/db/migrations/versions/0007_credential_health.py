"""Credential health of data sources

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:30:00.000000
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing source starts never checked (NULL): the first checks come in batches.
    with op.batch_alter_table("data_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("credential_message", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "credential_checked_at",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "credential_expires_at",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "credential_check_due_at",
                advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_data_sources_credential_check_due_at"),
            ["credential_check_due_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("data_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_sources_credential_check_due_at"))
        batch_op.drop_column("credential_check_due_at")
        batch_op.drop_column("credential_expires_at")
        batch_op.drop_column("credential_checked_at")
        batch_op.drop_column("credential_message")
        batch_op.drop_column("credential_status")
