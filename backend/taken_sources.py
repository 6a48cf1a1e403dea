"""Where the taken date of images stored before `images.taken_source` existed came from, as
well as can be told from the rows alone. Run by migration 0010, and by a restore of a backup
made before it (whose rows bring no source of their own)."""

from __future__ import annotations

from sqlalchemy import Connection, text

_DERIVE = (
    # the date is the DICOM file's own: its study or series date
    "UPDATE images SET taken_source = 'dicom' WHERE taken_date IS NOT NULL AND EXISTS ("
    "SELECT 1 FROM image_dicom d WHERE d.image_id = images.id "
    "AND (d.study_date = images.taken_date OR d.series_date = images.taken_date))",
    # any other date was given by a person, in this program or in the earlier app
    "UPDATE images SET taken_source = 'set' "
    "WHERE taken_date IS NOT NULL AND taken_source = 'upload'",
)


def derive_taken_sources(connection: Connection) -> None:
    """Give every row still marked "upload" (the column's default) its source: "dicom", "set",
    or "upload" for a row without a date. Files are not read again for an EXIF date: a date
    someone chose is not replaced. Runs in the caller's transaction."""
    for statement in _DERIVE:
        connection.execute(text(statement))
