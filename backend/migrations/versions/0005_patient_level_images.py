"""images: tooth may be NULL (a patient-level image, such as the earlier app's patient_images)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.alter_column("tooth", existing_type=sa.String(length=2), nullable=True)


def downgrade() -> None:
    # Patient-level images have no tooth to go back to; refusing keeps them rather than losing them.
    count = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM images WHERE tooth IS NULL"))
    if count.scalar():
        raise RuntimeError("patient-level images exist: move them to a tooth before downgrading")
    with op.batch_alter_table("images") as batch:
        batch.alter_column("tooth", existing_type=sa.String(length=2), nullable=False)
