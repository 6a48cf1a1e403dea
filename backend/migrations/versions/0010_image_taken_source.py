"""images.taken_source: where the taken date came from ("exif", "set", "upload", "dicom")

Rows that exist already get theirs from backend.taken_sources: "dicom" when the date is their
DICOM file's study or series date, "set" for any other date, "upload" without one.

On SQLite the column is added in place (ALTER TABLE ... ADD COLUMN, with its CHECK), never by
the batch mode's copy of the table: dropping the old `images` there, with foreign keys on,
would delete the rows that cascade from it (image_dicom, legacy links).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

from backend.taken_sources import derive_taken_sources

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME = "ck_images_taken_source"
CHECK = "taken_source IN ('exif', 'set', 'upload', 'dicom')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE images ADD COLUMN taken_source VARCHAR(8) DEFAULT 'upload' NOT NULL "
            f"CONSTRAINT {NAME} CHECK ({CHECK})"
        )
    else:
        op.add_column(
            "images",
            sa.Column("taken_source", sa.String(length=8), server_default="upload", nullable=False),
        )
        op.create_check_constraint(op.f(NAME), "images", CHECK)
    derive_taken_sources(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE images DROP COLUMN taken_source")  # SQLite 3.35+, in place
    else:
        op.drop_constraint(op.f(NAME), "images", type_="check")
        op.drop_column("images", "taken_source")
