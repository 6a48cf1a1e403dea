// The settings page: numbering, data folder, storage use, the trash, the log.
import { t, tn } from "./i18n.js";
import { ViewQuestion, api, isSuperseded, openLogFolder, revealDataFolder } from "./bridge.js";
import { $, confirmAction, escapeHtml, formatBytes, toast } from "./ui.js";
import { BackupSection } from "./backup.js";
import { MigrationSection } from "./migration.js";
import { TrashSection } from "./trash.js";
import { PatientRestore } from "./patient-restore.js";
import { ReceiverSection } from "./receiver.js";
import { DicomNodeSection } from "./dicom-export.js";

/** The per-PC settings of the page's language and look (GET/PATCH api/settings). */
const APPEARANCE = ["language", "theme", "digits"];

export class SettingsPage {
  constructor({ onNotation, onDataChanged }) {
    this.onNotation = onNotation;
    this.questions = { storage: new ViewQuestion(), log: new ViewQuestion() };
    // an import adds patients: the list beside the settings must show them at once
    this.migration = new MigrationSection({
      onImported: async () => {
        await this.loadStorage();
        await onDataChanged();
      },
    });
    this.backup = new BackupSection();
    this.trash = new TrashSection({
      onRestored: async () => {
        await this.loadStorage();
        await onDataChanged();
      },
    });
    this.patientRestore = new PatientRestore(this.backup, { onDataChanged });
    this.receiver = new ReceiverSection();
    this.dicomNode = new DicomNodeSection();
    $("#settings-notation").addEventListener("change", (e) => this.onNotation(e.target.value));
    $("#reveal-data").addEventListener("click", async () => {
      if (!(await revealDataFolder())) toast(t("Open this folder in your file manager: {path}", { path: $("#data-dir").textContent }));
    });
    $("#open-log-folder").addEventListener("click", async () => {
      if (!(await openLogFolder())) toast(this.logFile ? t("The log file is {path}", { path: this.logFile }) : t("The log file is in the logs folder of the data folder"));
    });
    for (const name of APPEARANCE) {
      $(`#settings-${name}`).addEventListener("change", (e) => this.saveAppearance(name, e.target.value));
    }
    $("#refresh-log").addEventListener("click", () => this.loadLog());
    $("#test-server").addEventListener("click", () => this.testServer());
    $("#save-server").addEventListener("click", () => this.saveServer());
    $("#log-level").addEventListener("change", () => this.loadLog());
    let timer = null;
    $("#log-filter").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.loadLog(), 200);
    });
  }

  async show(settings) {
    $("#settings-notation").value = settings.numbering;
    for (const name of APPEARANCE) $(`#settings-${name}`).value = settings[name] || $(`#settings-${name}`).value;
    $("#data-dir").textContent = settings.data_dir;
    this.showServer(settings);
    await Promise.all([this.loadStorage(), this.loadLog(), this.loadAbout(settings), this.migration.show(), this.backup.show(), this.trash.show(), this.receiver.show(), this.dicomNode.show()]);
  }

  /** This PC's language, theme or digits: saved for this PC, then the page loads again in them. */
  async saveAppearance(name, value) {
    try {
      await api("PATCH", "api/settings", { [name]: value });
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    window.location.reload();
  }

  /** What this PC uses now, so that nobody saves over it unknowingly. */
  showServer(settings) {
    const onServer = !settings.db_url.startsWith("sqlite");
    this.onServer = onServer;
    $("#server-current").textContent = onServer
      ? t("This PC uses the clinic server {server} and the images in {folder}.", { server: settings.db_url, folder: settings.images_dir })
      : t("This PC keeps its own database in {folder}.", { folder: settings.data_dir });
    const form = $("#server-form");
    if (onServer && !form.elements.images_root.value) form.elements.images_root.value = settings.images_root;
  }

  async loadAbout(settings) {
    $("#about-data-dir").textContent = settings.data_dir;
    const health = await api("GET", "api/health").catch(() => ({ version: document.body.dataset.version }));
    $("#about-version").textContent = health.version;
  }

  serverForm() {
    const form = $("#server-form");
    return { db_url: form.elements.db_url.value.trim(), images_root: form.elements.images_root.value.trim() };
  }

  async testServer() {
    const result = $("#server-result");
    result.textContent = t("Connecting…");
    try {
      const answer = await api("POST", "api/settings/server/test", { db_url: this.serverForm().db_url });
      const reached = t("{message} {server} (schema: {schema})", { message: answer.message, server: answer.server, schema: answer.schema });
      result.textContent = answer.ok ? `✔ ${reached}` : `✖ ${answer.message}`;
      result.className = answer.ok ? "ok-text" : "warning";
    } catch (error) {
      result.textContent = `✖ ${error.message}`;
      result.className = "warning";
    }
  }

  async saveServer() {
    const result = $("#server-result");
    if (this.onServer && !this.serverForm().db_url) {
      const back = await confirmAction(
        t("Leave the clinic server?"),
        t("The database address is empty: this PC would stop using the clinic server and go back to its own database. The server's data stays on the server."),
        t("Use this PC's own database"),
      );
      if (!back) return;
    }
    try {
      const answer = await api("PUT", "api/settings/server", this.serverForm());
      result.textContent = answer.message;
      result.className = "ok-text";
    } catch (error) {
      result.textContent = `✖ ${error.message}`;
      result.className = "warning";
    }
  }

  async loadStorage() {
    const box = $("#storage-report");
    const ask = this.questions.storage.ask();
    try {
      const s = await ask.get("api/storage");
      const images = t("{records} records · {files} files · {size}", { records: s.image_rows, files: s.image_files, size: formatBytes(s.image_bytes) });
      const free = t("{free} of {total}", { free: formatBytes(s.free_bytes), total: formatBytes(s.total_bytes) });
      const trash = tn("{n} file · {size}", "{n} files · {size}", s.trash_files, { size: formatBytes(s.trash_bytes) });
      box.innerHTML = `
        <dl>
          <dt>${escapeHtml(t("Images"))}</dt><dd>${escapeHtml(images)}</dd>
          <dt>${escapeHtml(t("Trash"))}</dt><dd>${escapeHtml(trash)}</dd>
          <dt>${escapeHtml(t("Thumbnails"))}</dt><dd>${formatBytes(s.thumbnail_bytes)}</dd>
          <dt>${escapeHtml(t("Free space"))}</dt><dd>${escapeHtml(free)}</dd>
        </dl>
        ${s.low_space ? `<p class="warning" role="alert">⚠ ${escapeHtml(s.warning)}</p>` : ""}`;
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      box.innerHTML = `<p class="warning">${escapeHtml(error.message)}</p>`;
    }
  }

  async loadLog() {
    const level = $("#log-level").value;
    const q = encodeURIComponent($("#log-filter").value.trim());
    const body = $("#log-entries");
    const ask = this.questions.log.ask();
    try {
      const result = await ask.get(`api/logs?level=${level}&limit=300&q=${q}`);
      this.logFile = result.log_file;
      body.replaceChildren(...result.entries.map((entry) => {
        const row = document.createElement("tr");
        row.className = `level-${entry.level.toLowerCase()}`;
        row.innerHTML = `<td class="time">${escapeHtml(entry.time.replace("T", " "))}</td><td class="level">${escapeHtml(entry.level)}</td><td><pre>${escapeHtml(entry.message)}</pre></td>`;
        return row;
      }));
      if (!result.entries.length) body.innerHTML = `<tr><td colspan="3" class="muted">${escapeHtml(t("No log entries match."))}</td></tr>`;
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      body.innerHTML = `<tr><td colspan="3" class="warning">${escapeHtml(error.message)}</td></tr>`;
    }
  }
}
