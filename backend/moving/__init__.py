"""Bringing files into the image layout crash-safely, whatever brings them (the earlier app's
import and migration, the restore of its backups): the mover and its per-file journal
(`mover`), the safety backup taken before anything moves (`safety`), the report of what came
across (`report`) and the cleanup of what a stopped run left (`cleanup`). Knows nothing of the
earlier app's formats: `backend.legacy` reads those, `backend.migration` drives the moves."""
