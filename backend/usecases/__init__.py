"""Use cases: functions that take a database session (and the image store where files are
involved), check their input, do one job, and raise typed errors from backend.errors."""
