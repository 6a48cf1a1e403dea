"""One log for the program: a rotating file in `logs/` and the console."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from backend import private_files

LOG_FILE_NAME = "dental-images.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_dental_images_handler"
OWN_LOGGERS = ("backend",)  # the program's own modules log under their module names
LIBRARY_MINIMUM = logging.WARNING


class OwnOrImportant(logging.Filter):
    """Lets through every record of the program's own loggers at the level set, and only
    warnings and errors of the libraries it uses (Alembic's "Context impl", the web server's
    and Pillow's chatter would bury what the program says in the log viewer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= LIBRARY_MINIMUM:
            return True
        return any(record.name == own or record.name.startswith(own + ".") for own in OWN_LOGGERS)


def setup_logging(logs_dir: Path, *, console: bool = True, level: int = logging.INFO) -> Path:
    """Send the program's log records to `logs_dir/dental-images.log` (5 MB x 5 files) and,
    if asked, to the console. Calling it again replaces the handlers it added before."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    path = logs_dir / LOG_FILE_NAME
    handlers: list[logging.Handler] = [
        RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8")
    ]
    private_files.restrict(path)  # rotated files are created under the umask (private_files)
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(OwnOrImportant())
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return path
