"""The earlier app's data brought into ours: the import of its folders (`importer`), the
recorded once-only migration at start (`state`, `runner`), its commands and its live counts.
Reads with `backend.legacy`, moves with `backend.moving`."""
