// Settings → Backup and restore: back up now (the native folder dialog in the window), the
// schedule, verify a backup file, check the data, restore with a preview and a confirmation;
// and the main screen's warning when the last good backup is too old or a scheduled one failed.
// Long work runs as a job on the server; its progress is polled here.
import { formatDate as formatLocalDate, formatNumber, t, tn } from "./i18n.js";
import { ViewQuestion, api, chooseBackupFile, chooseFolder, hasNative, isSuperseded, uploadBackupFile } from "./bridge.js";
import { cancelJob, pollJob, progressFraction } from "./jobs.js";
import { PassphraseControls, needsPassphrase, withPassphrase } from "./passphrase.js";
import { readingChoice, renderReadingChoice } from "./reading-choice.js";
import { $, confirmAction, escapeHtml, formatBytes, toast } from "./ui.js";

const BANNER_EVERY_MS = 60_000;
const WEEKDAYS = [t("Monday"), t("Tuesday"), t("Wednesday"), t("Thursday"), t("Friday"), t("Saturday"), t("Sunday")];

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? t("{hours} h {minutes} min", { hours: Math.floor(s / 3600), minutes: Math.round((s % 3600) / 60) }) : `${formatNumber(Math.floor(s / 60))}:${formatNumber(s % 60, { minimumIntegerDigits: 2 })}`;
}

function progressText(p) {
  const parts = [p.message];
  if (p.total) parts.push(tn("{current} of {n} file", "{current} of {n} files", p.total, { current: p.current }));
  if (p.bytes_total) parts.push(t("{done} of {total}", { done: formatBytes(p.bytes_done), total: formatBytes(p.bytes_total) }));
  if (p.remaining_s !== null && p.remaining_s !== undefined) parts.push(t("about {time} left", { time: clock(p.remaining_s) }));
  return parts.filter(Boolean).join(" · ");
}

export function list(items, className = "") {
  if (!items || !items.length) return "";
  return `<ul class="${className}">${items.map((item) => `<li>${escapeHtml(item)}</li>`).join("")}</ul>`;
}

function localTime(iso) {
  return iso ? formatLocalDate(iso, { dateStyle: "medium", timeStyle: "short" }) : "";
}

function describeBackup(b) {
  const c = b.counts;
  const parts = [
    tn("{n} patient", "{n} patients", c.patients),
    tn("{n} treatment", "{n} treatments", c.treatments),
    tn("{n} image", "{n} images", c.images),
    tn("{n} file", "{n} files", c.files),
  ];
  return `${parts.join(t(", "))} (${formatBytes(c.image_bytes)})${b.includes_images ? "" : t(", database only")}`;
}

// What starts whole-store work here: none may start while one runs (the server would refuse it
// with a message; the buttons say so before).
const JOB_BUTTONS = ["#backup-now", "#backup-db-only", "#verify-backup", "#check-store", "#repair-store", "#restore-choose", "#restore-confirm", "#patient-restore-open", "#patient-restore-file", "#patient-restore-confirm"];

function jobButtons(disabled) {
  for (const selector of JOB_BUTTONS) $(selector).disabled = disabled;
}

/** Poll a job until it ends, showing its progress; resolves with the finished job. However it
 * ends (also by a failure to ask), the progress goes and the page's banners are asked again
 * (a lock banner must not outlive the job). */
export async function followJob(job, options) {
  try {
    return await followJobProgress(job, options);
  } finally {
    $("#backup-job").hidden = true;
    document.dispatchEvent(new CustomEvent("dental:job-ended"));
  }
}

async function followJobProgress(job, { cancellable = true } = {}) {
  const box = $("#backup-job");
  const cancel = $("#backup-job-cancel");
  box.hidden = false;
  cancel.hidden = !cancellable;
  cancel.disabled = false;
  cancel.onclick = () => {
    cancel.disabled = true;
    cancelJob(job);
  };
  const finished = await pollJob(job, (current) => {
    $("#backup-job-bar").value = progressFraction(current.progress);
    $("#backup-job-text").textContent = progressText(current.progress);
  });
  box.hidden = true;
  return finished;
}

export class BackupSection {
  constructor() {
    this.status = null;
    this.restorePath = null;
    this.restorePassphrase = null;
    this.questions = { status: new ViewQuestion(), list: new ViewQuestion() };
    this.passphrase = new PassphraseControls(() => this.loadStatus());
    $("#backup-now").addEventListener("click", () => this.backUp(true));
    $("#backup-db-only").addEventListener("click", () => this.backUp(false));
    $("#backup-choose-folder").addEventListener("click", () => this.chooseFolder());
    $("#backup-schedule").addEventListener("input", (event) => {
      event.target.classList.remove("invalid"); // edited: the message about it no longer stands
      $("#backup-schedule-result").textContent = "";
    });
    $("#backup-schedule").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveSchedule();
    });
    $("#verify-backup").addEventListener("click", () => this.verify());
    $("#check-store").addEventListener("click", () => this.check(false));
    $("#repair-store").addEventListener("click", () => this.check(true));
    $("#restore-choose").addEventListener("click", () => this.chooseRestore());
    $("#restore-cancel").addEventListener("click", () => this.hidePreview());
    $("#restore-confirm").addEventListener("click", () => this.restore());
    $("#backup-banner-open").addEventListener("click", () => {
      $("#open-settings").click();
      setTimeout(() => $("#backup-section").scrollIntoView({ behavior: "smooth" }), 300);
    });
    this.refreshBanner();
    setInterval(() => this.refreshBanner(), BANNER_EVERY_MS);
  }

  async show() {
    await Promise.all([this.loadStatus(), this.loadList()]);
  }

  async refreshBanner() {
    try {
      this.renderBanner(await api("GET", "api/backup"));
    } catch {
      // shown again at the next round; a restore in progress refuses this for a moment
    }
  }

  renderBanner(status) {
    $("#backup-banner").hidden = !status.warning;
    $("#backup-banner-text").textContent = status.warning ? `⚠ ${status.warning}` : "";
  }

  async loadStatus() {
    let status;
    const ask = this.questions.status.ask();
    try {
      status = await ask.get("api/backup");
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      $("#backup-last").textContent = error.message;
      return;
    }
    this.status = status;
    this.renderBanner(status);
    this.passphrase.render(status.encryption);
    const last = status.last_success;
    let text = last ? t("Last good backup: {time}, {size}, {path}.", { time: localTime(last.at), size: formatBytes(last.size_bytes), path: last.path }) : t("No backup with images has been made yet.");
    if (status.next_run) text += " " + t("Next scheduled: {time}.", { time: localTime(status.next_run) });
    if (status.last_error) text += " " + t("Last scheduled backup failed {time}: {message}", { time: localTime(status.last_error.at), message: status.last_error.message });
    $("#backup-last").textContent = text;
    $("#backup-folder").textContent = this.folder || status.folder;
    $("#backup-choose-folder").hidden = !hasNative();
    $("#backup-folder-note").hidden = hasNative();
    const form = $("#backup-schedule");
    const s = status.settings;
    form.elements.schedule.value = s.schedule;
    form.elements.time.value = s.time;
    form.elements.weekday.value = String(s.weekday);
    form.elements.keep.value = s.keep;
    form.elements.folder.value = s.folder || "";
    form.elements.clinic.value = s.clinic || "";
    form.elements.mode.value = s.mode || "set";
  }

  async loadList() {
    const box = $("#backup-list");
    const ask = this.questions.list.ask();
    try {
      const { backups } = await ask.get("api/backups");
      box.replaceChildren(...backups.map((b) => this.listItem(b)));
      if (!backups.length) box.innerHTML = `<li class="muted">${escapeHtml(t("No backup files yet."))}</li>`;
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      box.innerHTML = `<li class="warning">${escapeHtml(error.message)}</li>`;
    }
  }

  /** One backup in the list: a zip (with its download) or a backup of an incremental set
   * (with what it added to the set, and a restore of it, since a folder cannot be downloaded). */
  listItem(b) {
    const item = document.createElement("li");
    const inSet = b.kind === "set-backup";
    const notes = [
      b.safety ? t("(safety backup before a restore)") : inSet ? t("(incremental set)") : "",
      b.contents === "backup" && !b.includes_images ? t("(database only: no image files)") : "",
      b.encrypted ? t("(encrypted)") : "",
      b.contents === "legacy-zip" ? t("(the earlier app's backup)") : "",
      b.contents === "broken-zip" ? t("(damaged: it cannot be opened)") : "",
      b.contents === "unknown" ? t("(not a backup of this program)") : "",
    ];
    const note = notes.filter(Boolean).join(" ");
    const size = inSet ? t("{size} added", { size: formatBytes(b.size_bytes) }) : formatBytes(b.size_bytes);
    item.innerHTML = `<span class="name"><bdi>${escapeHtml(b.name)}</bdi>${note ? ` <span class="muted">${escapeHtml(note)}</span>` : ""}</span>
      <span class="muted">${escapeHtml(localTime(b.modified))}</span><span>${escapeHtml(size)}</span>`;
    if (b.download_url) {
      const link = document.createElement("a");
      link.href = b.download_url;
      link.download = "";
      link.textContent = t("Download");
      item.append(link);
    } else {
      const restore = document.createElement("button");
      restore.type = "button";
      restore.className = "link restore-set-backup";
      restore.textContent = t("Restore…");
      restore.addEventListener("click", () => this.exclusive(() => this.runChooseRestore(b.path)));
      item.append(restore);
    }
    return item;
  }

  async chooseFolder() {
    const folder = await chooseFolder();
    if (!folder) return;
    this.folder = folder;
    $("#backup-folder").textContent = folder;
  }

  /** Run `work` with the job buttons off: one whole-store job at a time from this page. */
  async exclusive(work) {
    jobButtons(true);
    try {
      return await work();
    } finally {
      jobButtons(false);
    }
  }

  backUp(includeImages) {
    return this.exclusive(() => this.runBackup(includeImages));
  }

  async runBackup(includeImages) {
    const result = $("#backup-result");
    result.innerHTML = "";
    let done;
    try {
      const body = { folder: this.folder || null, include_images: includeImages };
      const started = await withPassphrase(t("Backups are encrypted, and this PC does not keep the passphrase: type it to make this backup."), async (passphrase) => {
        try {
          return { job: await api("POST", "api/backups", passphrase === null ? body : { ...body, passphrase }) };
        } catch (error) {
          if (needsPassphrase(error)) return { error };
          throw error;
        }
      });
      if (!started) {
        result.innerHTML = `<p class="muted">${escapeHtml(t("Backup not started: no passphrase given."))}</p>`;
        return;
      }
      done = await followJob(started.result.job);
    } catch (error) {
      result.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>`;
      await this.loadStatus();
      return;
    }
    if (done.state === "done") {
      const r = done.result;
      const written = t("Backup written and verified: {name} ({size}) in {folder} — {contents}.", {
        name: `<strong><bdi>${escapeHtml(r.name)}</bdi></strong>`,
        size: formatBytes(r.size_bytes),
        folder: `<code dir="ltr">${escapeHtml(r.folder)}</code>`,
        contents: escapeHtml(describeBackup(r.backup)),
      });
      result.innerHTML = `<p class="ok-text">✔ ${written}
        <a id="backup-download" href="api/backups/${encodeURIComponent(r.name)}/download" download>${escapeHtml(t("Download"))}</a></p>${list(r.warnings)}`;
      toast(t("Backup written and verified."), "ok");
    } else if (done.state === "cancelled") {
      result.innerHTML = `<p class="muted">${escapeHtml(t("Backup cancelled. No file was kept."))}</p>`;
    } else {
      result.innerHTML = `<p class="warning">✖ ${escapeHtml(done.error.message)}</p>`;
    }
    await Promise.all([this.loadStatus(), this.loadList()]);
  }

  async saveSchedule() {
    const form = $("#backup-schedule");
    const body = {};
    for (const name of ["schedule", "time", "weekday", "keep", "folder", "clinic", "mode"]) body[name] = form.elements[name].value.trim();
    const out = $("#backup-schedule-result");
    out.textContent = "";
    form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
    try {
      this.renderBanner(await api("PATCH", "api/backup/settings", body));
      // The form is refilled from the saved settings first: "Saved" then means the form is
      // settled, and a change made after it is not overwritten by the refill.
      await this.loadStatus();
      out.textContent = body.schedule === "off" ? t("Saved: no automatic backups.") : body.schedule === "daily" ? t("Saved: every day at {time}.", { time: body.time }) : t("Saved: every week on {weekday}s at {time}.", { weekday: WEEKDAYS[Number(body.weekday)], time: body.time });
      out.className = "ok-text";
    } catch (error) {
      out.textContent = `✖ ${error.message}`;
      out.className = "warning";
      const field = error.field && form.elements[error.field];
      if (field) {
        field.classList.add("invalid");
        field.focus();
      }
    }
  }

  /** A backup file's path on the computer running the program: the native dialog's answer,
   * or, in a browser, the chosen file uploaded first. */
  async pickArchive() {
    const chosen = await chooseBackupFile();
    if (!chosen) return null;
    if (typeof chosen === "string") return chosen;
    const box = $("#backup-job");
    box.hidden = false;
    $("#backup-job-cancel").hidden = true;
    try {
      const staged = await uploadBackupFile(chosen, (fraction) => {
        $("#backup-job-bar").value = fraction;
        $("#backup-job-text").textContent = t("Uploading {name}: {percent}", { name: chosen.name, percent: formatNumber(fraction, { style: "percent" }) });
      });
      return staged.path;
    } finally {
      box.hidden = true;
    }
  }

  verify() {
    return this.exclusive(() => this.runVerify());
  }

  async runVerify() {
    const out = $("#check-result");
    out.innerHTML = "";
    try {
      const path = await this.pickArchive();
      if (!path) return;
      const done = await this.archiveJob("api/backups/verify", { path });
      if (!done) return;
      if (done.state !== "done") throw done.error || { message: t("Verification cancelled.") };
      const r = done.result;
      const verdict = !r.ok
        ? t("{name} has problems:", { name: r.name })
        : r.backup
          ? t("{name} is complete and every file matches its checksum: {contents}.", { name: r.name, contents: describeBackup(r.backup) })
          : t("{name} is complete and every file matches its checksum.", { name: r.name });
      out.innerHTML = r.ok
        ? `<p class="ok-text">✔ ${escapeHtml(verdict)}</p>${list(r.warnings)}`
        : `<p class="warning">✖ ${escapeHtml(verdict)}</p>${list(r.problems)}${list(r.warnings)}`;
      if (r.ok && r.encrypted) out.insertAdjacentHTML("beforeend", `<p class="muted">${escapeHtml(t("The backup is encrypted, and the passphrase opens it."))}</p>`);
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>`;
    }
  }

  check(repair) {
    return this.exclusive(() => this.runCheck(repair));
  }

  async runCheck(repair) {
    const out = $("#check-result");
    out.innerHTML = "";
    try {
      const done = await followJob(await api("POST", "api/store/check", { repair }));
      if (done.state !== "done") throw done.error || { message: t("Check cancelled.") };
      const r = done.result;
      const head = [
        t("Checked {rows} image records and {files} files.", { rows: r.rows, files: r.files }),
        repair ? t("Re-linked {count}.", { count: r.repaired_count }) : "",
        r.legacy_files ? t("{count} files are in the earlier app's layout.", { count: r.legacy_files }) : "",
      ].filter(Boolean).join(" ");
      out.innerHTML = r.ok ? `<p class="ok-text">✔ ${escapeHtml(head)} ${escapeHtml(t("Everything is in order."))}</p>` : `<p class="warning">${escapeHtml(head)}</p>${list(r.problems)}`;
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>`;
    }
  }

  hidePreview() {
    $("#restore-preview").hidden = true;
    this.restorePath = null;
    this.restorePassphrase = null;
  }

  /** Run a job on a backup file, asking for its passphrase when it is encrypted (again after
   * a wrong one). Resolves with the finished job (with the `passphrase` that opened it), or
   * null when the person cancelled the question (said in #check-result). */
  async archiveJob(url, body) {
    const asked = await withPassphrase(t("This backup is encrypted: type its passphrase."), async (passphrase) => {
      return followJob(await api("POST", url, passphrase === null ? body : { ...body, passphrase }));
    });
    if (!asked) {
      $("#check-result").innerHTML = `<p class="muted">${escapeHtml(t("Not opened: the backup is encrypted and no passphrase was given. Nothing was changed."))}</p>`;
      return null;
    }
    return { ...asked.result, passphrase: asked.passphrase };
  }

  chooseRestore() {
    return this.exclusive(() => this.runChooseRestore());
  }

  /** Preview a restore of `chosen` (a backup in the list), else of a file picked now. */
  async runChooseRestore(chosen = null) {
    const out = $("#check-result");
    out.innerHTML = "";
    this.hidePreview();
    try {
      const path = chosen || (await this.pickArchive());
      if (!path) return;
      const done = await this.archiveJob("api/restore/preview", { path });
      if (!done) return;
      if (done.state !== "done") throw done.error || { message: t("Cancelled.") };
      this.renderPreview(done.result);
      this.restorePath = path;
      this.restorePassphrase = done.passphrase;
      if (chosen) {
        $("#restore-preview").scrollIntoView({ behavior: "smooth", block: "center" });
        $("#restore-cancel").focus({ preventScroll: true });
      }
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>${list(error.problems)}`;
    }
  }

  renderPreview(preview) {
    const facts = [[t("File"), preview.name], [t("Size"), formatBytes(preview.size_bytes)]];
    if (preview.backup) {
      facts.push([t("Made"), localTime(preview.backup.created_at)], [t("On computer"), preview.backup.source_machine], [t("Program version"), preview.backup.app_version], [t("Holds"), describeBackup(preview.backup)]);
    }
    if (preview.legacy) {
      const l = preview.legacy;
      facts.push([t("Kind"), t("Backup of the earlier app")], [t("Patients"), t("{count} ({new} new)", { count: l.patients, new: l.patients_new })], [t("Image records"), l.image_rows], [t("Images found"), l.images_found], [t("Teeth read as"), l.reading || t("to be chosen below")]);
    }
    $("#restore-facts").innerHTML = facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd dir="auto">${escapeHtml(String(v))}</dd>`).join("");
    $("#restore-replaces").innerHTML = preview.replaces.map((line) => `<li>${escapeHtml(line)}</li>`).join("");
    $("#restore-warnings").innerHTML = (preview.warnings || []).map((line) => `<li class="warning">${escapeHtml(line)}</li>`).join("");
    $("#restore-notation-row").hidden = !preview.legacy;
    if (preview.legacy) renderReadingChoice($("#restore-reading"), preview.legacy.generations);
    $("#restore-preview").hidden = false;
  }

  restore() {
    return this.exclusive(() => this.runRestore());
  }

  async runRestore() {
    const path = this.restorePath;
    const passphrase = this.restorePassphrase;
    if (!path) return;
    const ok = await confirmAction(t("Replace the current data?"), t("Every record and image here is replaced by the backup's. A safety backup of the current data is made first."), t("Restore"));
    if (!ok) return;
    const out = $("#check-result");
    $("#restore-preview").hidden = true;
    try {
      const body = { path, confirm: true };
      if (passphrase) body.passphrase = passphrase;
      if (!$("#restore-notation-row").hidden) Object.assign(body, readingChoice($("#restore-reading")));
      const done = await followJob(await api("POST", "api/restore", body));
      if (done.state === "cancelled") {
        out.innerHTML = `<p class="muted">${escapeHtml(t("Restore cancelled. Nothing was changed."))}</p>`;
        return;
      }
      if (done.state !== "done") throw done.error;
      const safety = `<code dir="ltr">${escapeHtml(done.result.safety_backup)}</code>`;
      const restored = t("Restored. The previous data is in the safety backup {path}. Reloading…", { path: safety });
      out.innerHTML = `<p class="ok-text" id="restore-done">✔ ${restored}</p>${list(done.result.warnings)}`;
      toast(t("Backup restored."), "ok");
      setTimeout(() => window.location.reload(), 1500);
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>${list(error.problems)}`;
    }
  }
}
