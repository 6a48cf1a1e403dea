"""Bringing legacy files into the layout, crash-safely: the per-file journal, the backup taken
before anything moves, the recorded once-only migration at start, and its report."""
