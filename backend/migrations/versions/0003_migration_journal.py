"""migration journal and legacy links

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:12:40.512233
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "migration_journal",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("folder_path", sa.String(length=300), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("legacy_key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("retire_source", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('planned', 'placed')", name=op.f("ck_migration_journal_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_journal")),
        sa.UniqueConstraint("folder_path", "file_name", name="uq_migration_journal_file"),
    )
    op.create_table(
        "legacy_links",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_legacy_links")),
    )


def downgrade() -> None:
    op.drop_table("legacy_links")
    op.drop_table("migration_journal")
