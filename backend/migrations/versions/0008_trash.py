"""trash: deleted patients and images are kept (marked with the time of deletion) until purged

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_patients_deleted_at", ["deleted_at"])
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "deleted_with_patient",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch.create_index("ix_images_deleted_at", ["deleted_at"])


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_deleted_at")
        batch.drop_column("deleted_with_patient")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("patients") as batch:
        batch.drop_index("ix_patients_deleted_at")
        batch.drop_column("deleted_at")
