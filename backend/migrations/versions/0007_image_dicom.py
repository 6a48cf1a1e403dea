"""image_dicom: what a DICOM image's file says (instance UIDs, modality, dates, pixel spacing,
the patient written in the file), one row per DICOM image

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_dicom",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=True),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("transfer_syntax_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("series_date", sa.Date(), nullable=True),
        sa.Column("pixel_spacing_row_mm", sa.Float(), nullable=True),
        sa.Column("pixel_spacing_column_mm", sa.Float(), nullable=True),
        sa.Column("pixel_spacing_source", sa.String(length=20), nullable=True),
        sa.Column("patient_name", sa.String(length=324), nullable=True),
        sa.Column("patient_ref", sa.String(length=64), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("bits_stored", sa.Integer(), nullable=True),
        sa.Column("photometric", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name="fk_image_dicom_image_id_images",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", name="pk_image_dicom"),
        sa.UniqueConstraint("sop_instance_uid", name="uq_image_dicom_sop_instance_uid"),
    )


def downgrade() -> None:
    op.drop_table("image_dicom")
