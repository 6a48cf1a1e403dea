"""Backup and restore over HTTP: start jobs (polled at /api/jobs/<id>), the schedule, the list
of backup files and their download, uploads of a backup file to restore from a browser. While a
restore swaps the data in, every other request is refused with a clear message."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue

from backend import __version__
from backend import validation as check
from backend.api.common import db, json_body, runtime
from backend.api.i18n import page_language
from backend.backup import archives, fsutil, passphrase, restore, service, state
from backend.backup.verify import verify_archive
from backend.db import session_scope
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.jobs import Job, Progress
from backend.legacy.notation import reading_choices
from backend.locks import current_lock
from backend.usecases.check import check_store

bp = Blueprint("backup", __name__, url_prefix="/api")

MAX_UPLOAD_BYTES = 256 * 1024**3


def _started(job: Job) -> ResponseReturnValue:
    return jsonify(job.as_dict()), 202


def _folders() -> list[Path]:
    return archives.backup_folders(runtime().settings, state.read_backup_settings(db()).folder)


def _status() -> dict[str, Any]:
    lock = current_lock(runtime().sessions)
    restoring = lock is not None and lock.operation == "restore"
    return service.backup_status(db(), runtime().settings, restore_running=restoring)


@bp.get("/backup")
def backup_status() -> ResponseReturnValue:
    return jsonify(_status())


@bp.patch("/backup/settings")
def update_backup_settings() -> ResponseReturnValue:
    body = json_body()
    _refuse_data_tree(body.get("folder"))
    state.update_backup_settings(db(), body)
    return jsonify(_status())


def _refuse_data_tree(folder: object) -> None:
    """A chosen backup folder in the data tree is refused before it is remembered."""
    if isinstance(folder, str) and folder.strip():
        chosen = Path(check.path_text(folder.strip(), "folder")).expanduser()
        if chosen.is_absolute():
            fsutil.refuse_data_tree(chosen, runtime().settings)


@bp.get("/backups")
def list_backups() -> ResponseReturnValue:
    return jsonify({"backups": archives.list_archives(_folders())})


@bp.post("/backups")
def start_backup() -> ResponseReturnValue:
    body = json_body()
    folder = body.get("folder")
    if folder is not None and not isinstance(folder, str):
        raise ValidationError(gettext("The folder must be a path."), field="folder")
    check.path_text(folder, "folder")
    _refuse_data_tree(folder)
    kind = check.choice(body.get("kind"), "kind", state.MODES, default=state.ZIP_MODE)
    job = service.start_backup_job(
        runtime(),
        folder=folder or None,
        include_images=body.get("include_images", True) is not False,
        kind=kind,
        secret=_passphrase(body),
    )
    return _started(job)


def _passphrase(body: dict[str, Any]) -> str | None:
    """The backup passphrase a request carries (to open an encrypted backup, or to make one
    where this PC's credential store does not keep it)."""
    value = body.get("passphrase")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(gettext("The passphrase must be text."), field="passphrase")
    return value


@bp.put("/backup/passphrase")
def set_backup_passphrase() -> ResponseReturnValue:
    """Encrypt backups from now on: `passphrase` typed twice (`confirm`), `understood: true`
    (a lost passphrase means a lost backup), `current` when one is set already."""
    body = json_body()
    if body.get("understood") is not True:
        raise ValidationError(
            gettext(
                "Confirm that you understand: without the passphrase no one can open these "
                "backups, not even the program's makers."
            ),
            field="understood",
        )
    passphrase.set_passphrase(
        db(), body.get("passphrase"), body.get("confirm"), body.get("current")
    )
    return jsonify(_status())


@bp.post("/backup/passphrase/remember")
def remember_backup_passphrase() -> ResponseReturnValue:
    """Keep the current passphrase in this PC's credential store (scheduled backups here)."""
    if not passphrase.remember_here(db(), json_body().get("passphrase")):
        raise ValidationError(
            gettext(
                "This PC has no usable credential store, so it cannot keep the passphrase: "
                "scheduled encrypted backups cannot run here. Back up by hand and type the "
                "passphrase each time."
            ),
            field="passphrase",
        )
    return jsonify(_status())


@bp.delete("/backup/passphrase")
def clear_backup_passphrase() -> ResponseReturnValue:
    """Make plain backups from now on (`current`: the passphrase). Backups made before stay
    encrypted."""
    passphrase.clear_passphrase(db(), json_body().get("current"))
    return jsonify(_status())


@bp.get("/backup/recovery-sheet")
def recovery_sheet() -> ResponseReturnValue:
    """A page to print and keep with the backup disk: what the backups are, where they go, how
    to open one with 7-Zip, and a blank line to write the passphrase on by hand (the program
    never prints the passphrase)."""
    config = state.read_backup_settings(db())
    return render_template(
        "recovery-sheet.html",
        page=page_language(),
        version=__version__,
        clinic=config.clinic,
        folder=config.folder or str(runtime().settings.backups_dir),
        schedule=config.schedule,
        encryption=passphrase.status(db()),
        today=datetime.now().strftime("%Y-%m-%d"),
    )


@bp.get("/backups/<name>/download")
def download_backup(name: str) -> ResponseReturnValue:
    path = archives.find_archive(_folders(), name)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)


@bp.post("/backups/upload")
def upload_backup() -> ResponseReturnValue:
    request.max_content_length = MAX_UPLOAD_BYTES
    uploaded = request.files.get("file")
    if uploaded is None or not uploaded.filename:
        raise ValidationError(gettext("Choose a backup file to upload."), field="file")
    target = archives.incoming_path(runtime().settings, uploaded.filename)
    uploaded.save(target)
    return jsonify({"path": str(target), "name": uploaded.filename}), 201


@bp.post("/backups/verify")
def start_verify() -> ResponseReturnValue:
    body = json_body()
    path = restore.archive_path(check.path_text(body.get("path"), "path"), whole_set=True)
    secret = _passphrase(body)
    settings = runtime().settings

    def work(progress: Progress) -> dict[str, Any]:
        asked = False
        try:
            return verify_archive(
                path, progress=progress, work_dir=settings.backups_dir, passphrase=secret
            ).as_dict()
        except (passphrase.PassphraseNeeded, passphrase.WrongPassphrase):
            asked = True  # the page asks for the passphrase and verifies the same upload again
            raise
        finally:
            if not asked:
                archives.discard_upload(settings, path)

    return _started(runtime().jobs.start("verify", work, exclusive=False))


@bp.post("/store/check")
def start_check() -> ResponseReturnValue:
    repair = json_body().get("repair") is True
    rt = runtime()

    def work(progress: Progress) -> dict[str, Any]:
        with session_scope(rt.sessions) as session:
            return check_store(session, rt.store, repair=repair, progress=progress).as_dict()

    return _started(rt.jobs.start("check", work))


def _reading(body: dict[str, Any]) -> dict[str, Any]:
    """How an earlier app's backup's teeth are to be read: `notation` (every table),
    `table_notation` ({"dental_treatments": "universal"}), `early_layout`."""
    return reading_choices(
        body.get("notation"), body.get("table_notation"), body.get("early_layout")
    )


def backup_to_read(body: dict[str, Any]) -> tuple[Path, dict[str, Any], str | None]:
    """The backup a restore request names (checked), how to read an earlier app's backup's
    teeth, and the passphrase it carries."""
    path = restore.archive_path(check.path_text(body.get("path"), "path"))
    return path, _reading(body), _passphrase(body)


@bp.post("/restore/preview")
def start_restore_preview() -> ResponseReturnValue:
    path, reading, secret = backup_to_read(json_body())
    rt = runtime()
    # The upload is kept: the confirmed restore that follows the preview reads the same file.
    job = rt.jobs.start(
        "restore-check",
        lambda p: restore.preview_restore(rt, path, p, reading, passphrase=secret),
        exclusive=False,
    )
    return _started(job)


@bp.post("/restore")
def start_restore() -> ResponseReturnValue:
    body = json_body()
    path, reading, secret = backup_to_read(body)
    if body.get("confirm") is not True:
        raise ValidationError(
            gettext("A restore replaces the current data: confirm it (confirm: true)."),
            field="confirm",
        )
    rt = runtime()

    def work(progress: Progress) -> dict[str, Any]:
        # The preview kept the upload for this step; after it, success or not, it goes (the
        # page uploads the file again for another try).
        try:
            return restore.restore_backup(
                rt, path, progress=progress, reading=reading, passphrase=secret
            )
        finally:
            archives.discard_upload(rt.settings, path)

    return _started(rt.jobs.start("restore", work))
