"""The database schema. Portable SQL only: the same models run on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.engine import Connection
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from backend import search_keys

IMAGE_TYPES = ("before", "after", "xray", "clinical", "other")
TREATMENT_STATUSES = ("planned", "in_progress", "completed", "cancelled")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _row_values(context: DefaultExecutionContext) -> dict[str, Any]:
    """The values of the row being inserted or updated, by column name."""
    # SQLAlchemy leaves this method unannotated; it returns the row's parameter dictionary.
    values: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return values


def _patient_text_key(context: DefaultExecutionContext) -> str:
    row = _row_values(context)
    return search_keys.patient_text_key(row.get("full_name"), row.get("serial_number"))


def _patient_digits_key(context: DefaultExecutionContext) -> str:
    row = _row_values(context)
    return search_keys.digits_key(row.get("phone"), row.get("serial_number"))


def _description_key(context: DefaultExecutionContext) -> str:
    return search_keys.description_key(_row_values(context).get("description"))


class Patient(Base):
    """`search_text` (name and serial) and `search_phone` (the digits of the phone numbers and
    of the serial) are the search keys of backend.search_keys: computed
    from the row's own values by every insert that does not give them (ORM or not) and by every
    ORM update (the listeners below)."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    serial_number: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(10))
    age: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    allergies: Mapped[str | None] = mapped_column(Text)
    medical_conditions: Mapped[str | None] = mapped_column(Text)
    patient_condition: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    search_text: Mapped[str] = mapped_column(Text, default=_patient_text_key, server_default="")
    search_phone: Mapped[str] = mapped_column(Text, default=_patient_digits_key, server_default="")
    # Set: the patient is in the trash (see backend.usecases.trash), hidden everywhere else.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    treatments: Mapped[list[Treatment]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    images: Mapped[list[Image]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_patients_full_name", "full_name"),
        Index("ix_patients_phone", "phone"),
        Index("ix_patients_deleted_at", "deleted_at"),
        # SQLite walks this in name order and tests the keys without reading the rows: a
        # search costs a scan of the index, not of the table. PostgreSQL scans the table fast
        # enough, and its index entries have a size limit that long keys could pass.
        Index(
            "ix_patients_search", "full_name", "serial_number", "search_text", "search_phone"
        ).ddl_if(dialect="sqlite"),
    )


class Treatment(Base):
    __tablename__ = "treatments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    tooth: Mapped[str] = mapped_column(String(2))
    treatment_type: Mapped[str] = mapped_column(String(120))
    category: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    color: Mapped[str | None] = mapped_column(String(9))
    start_date: Mapped[date | None] = mapped_column(Date)
    completion_date: Mapped[date | None] = mapped_column(Date)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="treatments")

    __table_args__ = (
        CheckConstraint(
            "status IN ('planned', 'in_progress', 'completed', 'cancelled')", name="status"
        ),
        Index("ix_treatments_patient_tooth", "patient_id", "tooth"),
    )


TAKEN_EXIF, TAKEN_SET, TAKEN_UPLOAD, TAKEN_DICOM = "exif", "set", "upload", "dicom"
TAKEN_SOURCES = (TAKEN_EXIF, TAKEN_SET, TAKEN_UPLOAD, TAKEN_DICOM)


class Image(Base):
    """One row, one file: `folder_path` + `file_name` under the data folder.
    `search_description` is kept as Patient's search keys are."""

    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    # NULL: a patient-level image ("Whole mouth / general"), kept under general/.
    tooth: Mapped[str | None] = mapped_column(String(2))
    image_type: Mapped[str] = mapped_column(String(12))
    folder_path: Mapped[str] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(String(255))
    treatment_id: Mapped[str | None] = mapped_column(
        ForeignKey("treatments.id", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)
    taken_date: Mapped[date | None] = mapped_column(Date)
    # Where `taken_date` came from (TAKEN_SOURCES): "exif" (the photo's own date), "set" (given
    # by a person: the upload form, the details, the earlier app), "dicom" (the x-ray file's
    # study date), "upload" (none known: the date shown is the upload's, `created_at`).
    taken_source: Mapped[str] = mapped_column(
        String(8), default=TAKEN_UPLOAD, server_default=TAKEN_UPLOAD
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))
    original_name: Mapped[str | None] = mapped_column(String(255))
    search_description: Mapped[str] = mapped_column(
        Text, default=_description_key, server_default=""
    )
    # Set: the image is in the trash, its file under `dental_images/.trash/` (folder_path says
    # where); `deleted_with_patient`: it went there with its patient, and comes back with them.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_with_patient: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    patient: Mapped[Patient] = relationship(back_populates="images")
    treatment: Mapped[Treatment | None] = relationship()
    # Only for a DICOM file: what the file itself says (see ImageDicom). Loaded with the images
    # in one more query ("selectin"): every listing serializes it, and a lazy load per image
    # made a tooth of 300 images 300 queries.
    dicom: Mapped[ImageDicom | None] = relationship(
        back_populates="image",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
        lazy="selectin",
    )
    # The other teeth the image shows (ImageTooth), loaded with it as `dicom` is.
    linked_teeth: Mapped[list[ImageTooth]] = relationship(
        back_populates="image",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="ImageTooth.tooth",
    )

    __table_args__ = (
        UniqueConstraint("folder_path", "file_name", name="uq_images_file"),
        CheckConstraint(
            "image_type IN ('before', 'after', 'xray', 'clinical', 'other')", name="image_type"
        ),
        CheckConstraint("taken_source IN ('exif', 'set', 'upload', 'dicom')", name="taken_source"),
        Index("ix_images_patient_tooth_type", "patient_id", "tooth", "image_type"),
        Index("ix_images_file_name", "file_name"),
        Index("ix_images_treatment", "treatment_id"),
        Index("ix_images_deleted_at", "deleted_at"),
    )

    @property
    def relative_path(self) -> str:
        return self.folder_path + self.file_name


@event.listens_for(Patient, "before_update")
def _refresh_patient_keys(
    _mapper: Mapper[Patient], _connection: Connection, patient: Patient
) -> None:
    text = search_keys.patient_text_key(patient.full_name, patient.serial_number)
    phone = search_keys.digits_key(patient.phone, patient.serial_number)
    if patient.search_text != text:
        patient.search_text = text
    if patient.search_phone != phone:
        patient.search_phone = phone


@event.listens_for(Image, "before_update")
def _refresh_image_key(_mapper: Mapper[Image], _connection: Connection, image: Image) -> None:
    key = search_keys.description_key(image.description)
    if image.search_description != key:
        image.search_description = key


class ImageTooth(Base):
    """One more tooth an image shows, besides the one its folder says (`Image.tooth`, or none
    for the whole mouth): a bitewing shows several teeth, a panoramic all of them. The image
    is listed and counted on each linked tooth too, but stays one image (one file, one row),
    counted once for the patient. Never the image's own tooth (backend.usecases.image_teeth
    keeps that so). Kept while the image is in the trash, gone with it when it is purged."""

    __tablename__ = "image_teeth"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    tooth: Mapped[str] = mapped_column(String(2), primary_key=True)

    image: Mapped[Image] = relationship(back_populates="linked_teeth")

    __table_args__ = (Index("ix_image_teeth_tooth", "tooth"),)


class ImageDicom(Base):
    """What a DICOM image's own file says, one row per such image (photos have none): the
    instance UIDs (one instance is stored once), the modality, the dates, the pixel spacing
    for measurements and the patient the x-ray unit wrote into it. The file itself stays the
    image's one file, byte for byte."""

    __tablename__ = "image_dicom"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str | None] = mapped_column(String(64))
    series_instance_uid: Mapped[str | None] = mapped_column(String(64))
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str | None] = mapped_column(String(16))
    study_date: Mapped[date | None] = mapped_column(Date)
    series_date: Mapped[date | None] = mapped_column(Date)
    # Millimetres between pixel centres: rows (vertical), then columns (horizontal); the source
    # says which attribute gave them (PixelSpacing, or ImagerPixelSpacing at the detector).
    pixel_spacing_row_mm: Mapped[float | None] = mapped_column(Float)
    pixel_spacing_column_mm: Mapped[float | None] = mapped_column(Float)
    pixel_spacing_source: Mapped[str | None] = mapped_column(String(20))
    patient_name: Mapped[str | None] = mapped_column(String(324))
    patient_ref: Mapped[str | None] = mapped_column(String(64))  # (0010,0020) Patient ID
    frames: Mapped[int] = mapped_column(Integer, default=1)
    bits_stored: Mapped[int | None] = mapped_column(Integer)
    photometric: Mapped[str | None] = mapped_column(String(16))

    image: Mapped[Image] = relationship(back_populates="dicom")


class InboxItem(Base):
    """An x-ray the DICOM receiver took in and nobody has assigned yet: its file waits under
    `dental_images/inbox/` (byte for byte as the unit sent it) and becomes an image only when
    the receptionist assigns it to a patient, a tooth (or the whole mouth) and a type. What the
    file says is kept here for the list; `suggested_patient_id` is the patient it was matched
    to (by the DICOM Patient ID, else name and birth date), NULL when none."""

    __tablename__ = "inbox_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    file_name: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sender_ae: Mapped[str | None] = mapped_column(String(16))
    sender_address: Mapped[str | None] = mapped_column(String(64))
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str | None] = mapped_column(String(64))
    series_instance_uid: Mapped[str | None] = mapped_column(String(64))
    modality: Mapped[str | None] = mapped_column(String(16))
    study_date: Mapped[date | None] = mapped_column(Date)
    patient_name: Mapped[str | None] = mapped_column(String(324))
    patient_ref: Mapped[str | None] = mapped_column(String(64))  # (0010,0020) Patient ID
    patient_birth_date: Mapped[date | None] = mapped_column(Date)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer, default=1)
    suggested_patient_id: Mapped[str | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL")
    )
    match: Mapped[str | None] = mapped_column(String(20))  # "patient_id" or "name_birth_date"

    suggested_patient: Mapped[Patient | None] = relationship()

    __table_args__ = (Index("ix_inbox_items_received_at", "received_at"),)


class AppState(Base):
    """Small key/value facts about this installation (e.g. a migration that completed)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class StoreLock(Base):
    """A lease on a whole-store operation (backup, restore, migration), shared by every PC
    that uses the same database; an expired lease may be taken over."""

    __tablename__ = "store_locks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(50))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    # The holder's process, so that a holder that died on this PC is not waited for.
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    process_started: Mapped[str | None] = mapped_column(String(100), nullable=True)


class MigrationJournal(Base):
    """One file on its way into the layout (import or migration): written before the file is
    touched, removed once the file is in place, its row updated and the original retired. A
    start after a crash finishes or undoes every row left here."""

    __tablename__ = "migration_journal"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    operation: Mapped[str] = mapped_column(String(20))
    source_path: Mapped[str] = mapped_column(Text)
    folder_path: Mapped[str] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    image_id: Mapped[str] = mapped_column(String(36))
    legacy_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str | None] = mapped_column(Text)
    retire_source: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(10), default="planned")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("state IN ('planned', 'placed')", name="state"),
        UniqueConstraint("folder_path", "file_name", name="uq_migration_journal_file"),
    )


class LegacyLink(Base):
    """Which of our records came from which record of the earlier app, so that importing the
    same data again creates nothing twice (kept when our record is later deleted, so a second
    import does not bring back what the clinic removed)."""

    __tablename__ = "legacy_links"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(36))
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
