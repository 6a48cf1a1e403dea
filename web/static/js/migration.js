// Settings: migration of legacy images and import of the earlier app's data. Preview first
// (counts, the tooth numbering detected and why), then a job whose progress and counts are
// polled; the last report can be downloaded as JSON or CSV.
import { t } from "./i18n.js";
import { ViewQuestion, api, chooseFolder, download, isSuperseded } from "./bridge.js";
import { pollJob, progressFraction } from "./jobs.js";
import { readingChoice, renderReadingChoice } from "./reading-choice.js";
import { $, escapeHtml, toast } from "./ui.js";

function countsText(c) {
  if (!c) return "";
  return t("Done {imported} · skipped {skipped} · missing {missing} · failed {failed}", { imported: c.imported, skipped: c.skipped, missing: c.missing, failed: c.failed });
}

export class MigrationSection {
  constructor({ onImported }) {
    this.onImported = onImported;
    this.statusQuestion = new ViewQuestion();
    $("#migration-run").addEventListener("click", () => this.run("api/migration/run", {}));
    $("#import-choose").addEventListener("click", () => this.choose());
    $("#import-preview").addEventListener("click", () => this.preview());
    $("#import-start").addEventListener("click", () => this.startImport());
    // a changed choice counts again as it would import
    $("#import-reading").addEventListener("change", () => this.preview(readingChoice($("#import-reading"))));
    $("#migration-report-json").addEventListener("click", () => download("api/migration/report?format=json"));
    $("#migration-report-csv").addEventListener("click", () => download("api/migration/report?format=csv"));
  }

  async show() {
    const ask = this.statusQuestion.ask();
    try {
      this.renderStatus(await ask.get("api/migration"));
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      $("#migration-status").textContent = error.message;
    }
  }

  renderStatus(status) {
    const states = {
      complete: t("Everything is in the current layout."),
      incomplete: t("The last migration left files to retry; they are retried at the next start or now."),
      needs_notation: t("Legacy data waits for its tooth numbering to be chosen: import it below."),
    };
    let text = states[status.state] || t("No migration has run yet.");
    if (status.check && status.check.needed) text = t("Legacy data found: {reasons}.", { reasons: status.check.reasons.join("; ") });
    if (status.last_report) text += " " + t("Last {operation}: {summary}", { operation: status.last_report.operation, summary: status.last_report.summary });
    $("#migration-status").textContent = text;
    const hasReport = Boolean(status.last_report);
    $("#migration-report-json").hidden = !hasReport;
    $("#migration-report-csv").hidden = !hasReport;
  }

  async choose() {
    const folder = await chooseFolder();
    if (folder) {
      $("#import-source").value = folder;
      await this.preview();
    } else if (!$("#import-source").value) {
      $("#import-source").focus();
      toast(t("Type the path of the earlier app's data folder, then press Preview."));
    }
  }

  /** The source and the other image folders typed in, as the API takes them. */
  sourceBody() {
    const imagesFrom = $("#import-images-from").value.split("\n").map((line) => line.trim()).filter(Boolean);
    return { source: $("#import-source").value.trim(), images_from: imagesFrom };
  }

  /** Count what an import would bring, its teeth read as `choice` ({table_notation,
   * early_layout}) where given, else as the evidence decides. */
  async preview(choice = null) {
    const body = { ...this.sourceBody(), ...(choice || {}) };
    let shown;
    try {
      shown = await api("POST", "api/migration/preview", body);
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    const treatments = Object.values(shown.treatments).reduce((a, b) => a + b, 0);
    const rows = [
      [t("Database"), shown.database],
      [t("Image folders searched"), shown.image_roots.join(", ") || t("none found")],
      [t("Patients"), t("{count} ({new} new)", { count: shown.patients, new: shown.patients_new })],
      [t("Treatments"), treatments],
      [t("Image records"), shown.image_rows],
      [t("Images found"), shown.images_found],
      [t("Images missing"), shown.images_missing],
      [t("Imported before"), shown.images_already_imported],
      [t("Patient images (no tooth)"), t("{count} ({found} files found), to the whole mouth", { count: shown.patient_images, found: shown.patient_images_found })],
      [t("Files no record names"), t("{kept} kept as patient images, {listed} listed", { kept: shown.files_kept_as_patient_images, listed: shown.unreferenced_files })],
      [t("Teeth read as"), shown.reading || t("to be chosen below")],
    ];
    $("#import-counts").innerHTML = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd dir="auto">${escapeHtml(String(v))}</dd>`).join("");
    renderReadingChoice($("#import-reading"), shown.generations);
    const notes = [...shown.warnings, ...shown.name_conflicts, ...shown.unreferenced_names.map((n) => t("No record names {name}", { name: n }))];
    $("#import-warnings").innerHTML = notes.map((w) => `<li class="warning">${escapeHtml(w)}</li>`).join("");
    $("#import-preview-box").hidden = false;
  }

  async startImport() {
    await this.run("api/migration/import", { ...this.sourceBody(), ...readingChoice($("#import-reading")) });
  }

  async run(path, body) {
    let job;
    try {
      job = await api("POST", path, body);
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    $("#migration-progress").hidden = false;
    $("#migration-run").disabled = true;
    $("#import-start").disabled = true;
    try {
      job = await this.follow(job);
    } finally {
      $("#migration-run").disabled = false;
      $("#import-start").disabled = false;
    }
    if (job.state === "done") {
      $("#migration-message").textContent = job.result.summary;
      toast(job.result.exit_code === 0 ? t("Everything came across.") : t("Finished; see the report for what did not come across."), job.result.exit_code === 0 ? "ok" : "info");
      if (this.onImported) await this.onImported();
    } else {
      $("#migration-message").textContent = job.error ? job.error.message : t("The job was {state}.", { state: job.state });
      toast($("#migration-message").textContent, "error");
    }
    await this.show();
  }

  follow(started) {
    return pollJob(started, (job) => {
      const p = job.progress;
      $("#migration-bar").value = progressFraction(p);
      $("#migration-message").textContent = p.message;
      $("#migration-counts").textContent = countsText(p.details);
    });
  }
}
