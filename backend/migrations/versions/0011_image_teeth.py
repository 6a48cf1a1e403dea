"""image_teeth: the other teeth an image shows (a bitewing several, a panoramic all), besides
the one its folder says (images.tooth, or none for the whole mouth)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 13:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_teeth",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("tooth", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name="fk_image_teeth_image_id_images",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "tooth", name="pk_image_teeth"),
    )
    # A tooth's panel and counts look the links up by tooth.
    op.create_index("ix_image_teeth_tooth", "image_teeth", ["tooth"])


def downgrade() -> None:
    op.drop_index("ix_image_teeth_tooth", table_name="image_teeth")
    op.drop_table("image_teeth")
