"""inbox_items: x-rays the DICOM receiver took in, waiting to be assigned to a patient

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("file_name", sa.String(length=80), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("sender_ae", sa.String(length=16), nullable=True),
        sa.Column("sender_address", sa.String(length=64), nullable=True),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=True),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("patient_name", sa.String(length=324), nullable=True),
        sa.Column("patient_ref", sa.String(length=64), nullable=True),
        sa.Column("patient_birth_date", sa.Date(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("suggested_patient_id", sa.String(length=36), nullable=True),
        sa.Column("match", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["suggested_patient_id"],
            ["patients.id"],
            name="fk_inbox_items_suggested_patient_id_patients",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_items"),
        sa.UniqueConstraint("sop_instance_uid", name="uq_inbox_items_sop_instance_uid"),
    )
    op.create_index("ix_inbox_items_received_at", "inbox_items", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_items_received_at", table_name="inbox_items")
    op.drop_table("inbox_items")
