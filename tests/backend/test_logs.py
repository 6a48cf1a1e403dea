"""The log view: records parsed from the end of real log files, filtered, newest first."""

import builtins
import logging
import time

import pytest

from backend.errors import ValidationError
from backend.logging_setup import FORMAT, LOG_FILE_NAME
from backend.usecases import logs
from tests.backend.test_error_shape import assert_error_shape

LINE = "2024-05-0{day} 09:{minute:02d}:00,{ms:03d} {level} backend.{name}: {message}\n"


def write_records(path, records):
    """Log `records` ((level, logger, message, with_traceback)) with the program's format."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    for level, name, message, with_traceback in records:
        logger = logging.getLogger(f"tests.logview.{name}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        if with_traceback:
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                logger.log(level, message, exc_info=True)
        else:
            logger.log(level, message)
        logger.removeHandler(handler)
    handler.close()


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / LOG_FILE_NAME
    write_records(
        path,
        [
            (logging.DEBUG, "index", "file-name index built: 3 names", False),
            (logging.INFO, "images", "image stored: dental_images/a/3/before/x.jpg", False),
            (logging.WARNING, "images", "upload refused: bad.jpg: not an image", False),
            (logging.ERROR, "errors", "unexpected error: division by zero", True),
            (logging.INFO, "images", "first line of a note\nsecond line\n  indented third", False),
            (logging.CRITICAL, "server", "cannot bind the port", False),
        ],
    )
    return path


def test_records_come_newest_first_with_continuation_lines_kept(log_file):
    entries = logs.recent_entries(log_file)
    assert [e["level"] for e in entries] == [
        "CRITICAL",
        "INFO",
        "ERROR",
        "WARNING",
        "INFO",
        "DEBUG",
    ]
    assert entries[1]["message"] == "first line of a note\nsecond line\n  indented third"
    error = entries[2]
    assert error["logger"] == "tests.logview.errors"
    assert error["message"].startswith("unexpected error: division by zero\nTraceback (most")
    assert error["message"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert all(set(e) == {"time", "level", "logger", "message"} for e in entries)
    assert all(len(e["time"]) == 23 and e["time"][10] == "T" for e in entries)


def test_minimum_level_keeps_that_level_and_above(log_file):
    assert [e["level"] for e in logs.recent_entries(log_file, level="WARNING")] == [
        "CRITICAL",
        "ERROR",
        "WARNING",
    ]
    assert [e["level"] for e in logs.recent_entries(log_file, level="error")] == [
        "CRITICAL",
        "ERROR",
    ]
    assert len(logs.recent_entries(log_file, level="INFO")) == 5


def test_text_filter_ignores_case_and_searches_tracebacks_and_logger_names(log_file):
    found = logs.recent_entries(log_file, query="zerodivisionerror")
    assert [e["level"] for e in found] == ["ERROR"]
    assert [e["level"] for e in logs.recent_entries(log_file, query="LOGVIEW.SERVER")] == [
        "CRITICAL"
    ]
    stored = logs.recent_entries(log_file, level="INFO", query="image stored")
    assert [e["message"] for e in stored] == ["image stored: dental_images/a/3/before/x.jpg"]
    assert logs.recent_entries(log_file, query="nothing like this") == []


def test_limit_keeps_the_newest(log_file):
    assert [e["level"] for e in logs.recent_entries(log_file, limit=2)] == ["CRITICAL", "INFO"]
    assert [e["level"] for e in logs.recent_entries(log_file, limit="1")] == ["CRITICAL"]


def test_bad_filters_name_their_field(log_file):
    for kwargs, field in (
        ({"level": "LOUD"}, "level"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": logs.MAX_LIMIT + 1}, "limit"),
    ):
        with pytest.raises(ValidationError) as caught:
            logs.recent_entries(log_file, **kwargs)
        assert caught.value.field == field


def test_missing_or_empty_log_has_no_entries(tmp_path):
    assert logs.recent_entries(tmp_path / LOG_FILE_NAME) == []
    (tmp_path / LOG_FILE_NAME).write_bytes(b"")
    assert logs.recent_entries(tmp_path / LOG_FILE_NAME) == []


def test_rotated_files_are_read_when_the_current_one_holds_too_few(tmp_path):
    current = tmp_path / LOG_FILE_NAME
    (tmp_path / f"{LOG_FILE_NAME}.2").write_text(
        LINE.format(day=1, minute=1, ms=0, level="INFO", name="a", message="oldest"),
        encoding="utf-8",
    )
    (tmp_path / f"{LOG_FILE_NAME}.1").write_text(
        LINE.format(day=2, minute=1, ms=0, level="INFO", name="a", message="older")
        + LINE.format(day=2, minute=2, ms=0, level="ERROR", name="a", message="old")
        + "Traceback (most recent call last):\n  boom\n",
        encoding="utf-8",
    )
    current.write_text(
        LINE.format(day=3, minute=1, ms=0, level="INFO", name="a", message="newest"),
        encoding="utf-8",
    )
    messages = [e["message"] for e in logs.recent_entries(current)]
    assert messages == [
        "newest",
        "old\nTraceback (most recent call last):\n  boom",
        "older",
        "oldest",
    ]
    assert [e["message"] for e in logs.recent_entries(current, limit=2)] == messages[:2]


def test_windows_line_endings_and_a_last_line_without_newline(tmp_path):
    path = tmp_path / LOG_FILE_NAME
    first = LINE.format(day=1, minute=1, ms=5, level="ERROR", name="x", message="failed")
    path.write_bytes(
        first.replace("\n", "\r\n").encode()
        + b"Traceback (most recent call last):\r\n  detail\r\n"
        + LINE.format(day=1, minute=2, ms=6, level="INFO", name="x", message="still writing")
        .rstrip("\n")
        .encode()
    )
    entries = logs.recent_entries(path)
    assert [e["message"] for e in entries] == [
        "still writing",
        "failed\nTraceback (most recent call last):\n  detail",
    ]
    assert entries[1]["time"] == "2024-05-01T09:01:00.005"


def test_block_boundaries_anywhere_split_nothing(tmp_path, monkeypatch):
    path = tmp_path / LOG_FILE_NAME
    records = [
        (logging.INFO, "a", "مريض جديد: أحمد خليل", False),
        (logging.ERROR, "b", "رفض الملف\nline two", True),
        (logging.WARNING, "c", "plain", False),
    ]
    write_records(path, records)
    expected = logs.recent_entries(path)
    assert expected[2]["message"] == "مريض جديد: أحمد خليل"
    for block in (1, 2, 3, 7, 64, 100):
        monkeypatch.setattr(logs, "BLOCK_SIZE", block)
        assert logs.recent_entries(path) == expected


@pytest.fixture(scope="module")
def big_log(tmp_path_factory):
    """About 20 MB of records, one in fifty with a traceback; the first and last are marked."""
    path = tmp_path_factory.mktemp("biglog") / LOG_FILE_NAME
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "backend/usecases/images.py", line 120, in _store_one\n'
        "    decoded = imaging.inspect_image(upload.data, limits)\n"
        "backend.imaging.InvalidImage: The image is damaged or incomplete.\n"
    )
    lines = ["2024-01-01 00:00:00,000 INFO backend.first: the very first record\n"]
    size = len(lines[0])
    number = 0
    while size < 20 * 1024 * 1024:
        number += 1
        level = "WARNING" if number % 50 == 0 else "INFO"
        line = (
            f"2024-02-01 10:00:00,{number % 1000:03d} {level} backend.images: "
            f"image stored: dental_images/p/3/before/photo-{number}.jpg (48213 bytes)\n"
        )
        if level == "WARNING":
            line += traceback
        lines.append(line)
        size += len(line)
    lines.append("2024-03-01 12:00:00,999 ERROR backend.last: the newest record\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path, number


def test_large_log_tail_is_quick_and_reads_only_the_end(big_log, monkeypatch):
    path, number = big_log
    assert path.stat().st_size > 20 * 1024 * 1024
    read = []
    real_open = builtins.open

    class CountingFile:
        def __init__(self, handle):
            self._handle = handle

        def read(self, size=-1):
            data = self._handle.read(size)
            read.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

    monkeypatch.setattr(
        logs, "open", lambda *a, **k: CountingFile(real_open(*a, **k)), raising=False
    )

    started = time.perf_counter()
    entries = logs.recent_entries(path, limit=200)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert sum(read) < 1024 * 1024  # the tail, not the 20 MB
    assert len(entries) == 200
    assert entries[0]["message"] == "the newest record"
    assert entries[1]["message"].endswith(f"photo-{number}.jpg (48213 bytes)")
    warnings = [e for e in entries if e["level"] == "WARNING"]
    assert warnings and all(e["message"].count("\n") == 4 for e in warnings)


def test_large_log_filters_scan_back_to_the_first_record(big_log):
    path, number = big_log
    started = time.perf_counter()
    first = logs.recent_entries(path, query="the very first record")
    assert time.perf_counter() - started < 5
    assert [(e["logger"], e["time"]) for e in first] == [
        ("backend.first", "2024-01-01T00:00:00.000")
    ]
    warnings = logs.recent_entries(path, level="WARNING", limit=logs.MAX_LIMIT)
    assert len(warnings) == min(logs.MAX_LIMIT, number // 50 + 1)
    assert warnings[0]["level"] == "ERROR"
    assert all(e["message"].endswith("damaged or incomplete.") for e in warnings[1:])


def test_logs_api_filters_and_names_the_file(client, settings):
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    path = settings.logs_dir / LOG_FILE_NAME
    write_records(
        path,
        [
            (logging.INFO, "images", "image stored: a.jpg", False),
            (logging.WARNING, "images", "upload refused: b.jpg", False),
            (logging.ERROR, "errors", "unexpected error: b.jpg", True),
        ],
    )
    body = client.get("/api/logs?level=WARNING&limit=200&q=b.jpg").get_json()
    assert body["log_file"] == str(path)
    assert [e["level"] for e in body["entries"]] == ["ERROR", "WARNING"]
    assert set(body["entries"][0]) == {"time", "level", "logger", "message"}
    assert len(client.get("/api/logs").get_json()["entries"]) == 3
    assert len(client.get("/api/logs?limit=1").get_json()["entries"]) == 1
    error = assert_error_shape(client.get("/api/logs?level=LOUD"), 400, "invalid_input")
    assert error["field"] == "level"
    assert assert_error_shape(client.get("/api/logs?limit=x"), 400, "invalid_input")["field"] == (
        "limit"
    )
