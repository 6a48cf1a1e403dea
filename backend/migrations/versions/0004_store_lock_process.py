"""store lock: the holder's host, process id and process start time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:41:07.118204
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("store_locks") as batch:
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("process_started", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("store_locks") as batch:
        batch.drop_column("process_started")
        batch.drop_column("pid")
        batch.drop_column("host")
