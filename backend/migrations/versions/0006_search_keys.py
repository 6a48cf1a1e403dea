"""patients and images: stored search keys (patients.search_text, patients.search_phone,
images.search_description), filled from the existing rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

from backend.search_keys import refresh_search_keys

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("search_phone", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("images") as batch:
        batch.add_column(
            sa.Column("search_description", sa.Text(), nullable=False, server_default="")
        )
    if op.get_bind().dialect.name == "sqlite":  # see backend.models.Patient
        with op.batch_alter_table("patients") as batch:
            batch.create_index(
                "ix_patients_search",
                ["full_name", "serial_number", "search_text", "search_phone"],
                unique=False,
            )
    refresh_search_keys(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("search_description")
    with op.batch_alter_table("patients") as batch:
        if op.get_bind().dialect.name == "sqlite":
            batch.drop_index("ix_patients_search")
        batch.drop_column("search_phone")
        batch.drop_column("search_text")
