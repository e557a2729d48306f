"""Version object stems: each version's storage keys carry the run that published it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing versions keep NULL: their objects are where older releases put them,
    # `{file_id}/v{version}.*`, and are read there.
    with op.batch_alter_table("file_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("object_stem", sa.String(length=80), nullable=True))


def downgrade() -> None:
    # An older release looks for every version's objects at `v{version}.*`, where versions
    # published since the upgrade are not. So those rows go, and each file they were current
    # for falls back to its newest older-style version (or to none, version 0), with its
    # change marker cleared so that its next run fetches in full. Their objects stay in the
    # store, unreferenced.
    newest_old = (
        "SELECT {column} FROM file_versions old WHERE old.file_id = target_files.id "
        "AND old.object_stem IS NULL ORDER BY old.version DESC LIMIT 1"
    )
    op.execute(
        sa.text(
            "UPDATE target_files SET "
            + ", ".join(
                f"{column} = COALESCE(({newest_old.format(column=column)}), {empty})"
                for column, empty in (
                    ("version", "0"),
                    ("size_bytes", "0"),
                    ("row_count", "0"),
                    ("column_count", "0"),
                    ("checksum", "NULL"),
                )
            )
            + ", change_marker = NULL, change_fingerprint = NULL, fully_fetched_at = NULL "
            "WHERE id IN (SELECT file_id FROM file_versions WHERE object_stem IS NOT NULL)"
        )
    )
    op.execute(sa.text("DELETE FROM file_versions WHERE object_stem IS NOT NULL"))
    with op.batch_alter_table("file_versions", schema=None) as batch_op:
        batch_op.drop_column("object_stem")
