"""accounts: admin, token versions, revoked session tokens; formula escaping per file

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_index(
        "uq_users_single_admin",
        "users",
        ["is_admin"],
        unique=True,
        sqlite_where=sa.text("is_admin"),
        postgresql_where=sa.text("is_admin"),
    )
    # An existing deployment's oldest account becomes its admin.
    op.execute(
        "UPDATE users SET is_admin = TRUE WHERE id = (SELECT id FROM users "
        "WHERE password_hash IS NOT NULL ORDER BY created_at LIMIT 1)"
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column(
            "expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False
    )
    with op.batch_alter_table("target_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escape_formulas", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("target_files", schema=None) as batch_op:
        batch_op.drop_column("escape_formulas")
    op.drop_index(op.f("ix_revoked_tokens_expires_at"), table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_index("uq_users_single_admin", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
        batch_op.drop_column("is_admin")
