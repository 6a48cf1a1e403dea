"""Backup and restore: one verifiable zip per backup (manifest, database snapshot, image tree),
an all-or-nothing restore that survives a crash at any point, checks of archives and of the
live store, and scheduled backups."""
