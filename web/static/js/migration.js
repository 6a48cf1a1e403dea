// Settings: migration of legacy images and import of the earlier app's data. Preview first
// (counts, the tooth numbering detected and why), then a job whose progress and counts are
// polled; the last report can be downloaded as JSON or CSV.
import { ViewQuestion, api, chooseFolder, download, isSuperseded } from "./bridge.js";
import { $, escapeHtml, toast } from "./ui.js";

const POLL_MS = 400;

function countsText(c) {
  if (!c) return "";
  return `Done ${c.imported} · skipped ${c.skipped} · missing ${c.missing} · failed ${c.failed}`;
}

export class MigrationSection {
  constructor({ onImported }) {
    this.onImported = onImported;
    this.statusQuestion = new ViewQuestion();
    $("#migration-run").addEventListener("click", () => this.run("api/migration/run", {}));
    $("#import-choose").addEventListener("click", () => this.choose());
    $("#import-preview").addEventListener("click", () => this.preview());
    $("#import-start").addEventListener("click", () => this.startImport());
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
      complete: "Everything is in the current layout.",
      incomplete: "The last migration left files to retry; they are retried at the next start or now.",
      needs_notation: "Legacy data waits for its tooth numbering to be chosen: import it below.",
    };
    let text = states[status.state] || "No migration has run yet.";
    if (status.check && status.check.needed) text = `Legacy data found: ${status.check.reasons.join("; ")}.`;
    if (status.last_report) text += ` Last ${status.last_report.operation}: ${status.last_report.summary}`;
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
      toast("Type the path of the earlier app's data folder, then press Preview.");
    }
  }

  async preview(notation = null) {
    const source = $("#import-source").value.trim();
    const body = { source };
    if (notation) body.notation = notation;
    let shown;
    try {
      shown = await api("POST", "api/migration/preview", body);
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    const n = shown.notation;
    const treatments = Object.values(shown.treatments).reduce((a, b) => a + b, 0);
    const rows = [
      ["Database", shown.database],
      ["Image folders", shown.image_roots.join(", ") || "none found"],
      ["Patients", `${shown.patients} (${shown.patients_new} new)`],
      ["Treatments", treatments],
      ["Image records", shown.image_rows],
      ["Images found", shown.images_found],
      ["Images missing", shown.images_missing],
      ["Imported before", shown.images_already_imported],
      ["Patient images without a tooth", `${shown.patient_images} (left where they are)`],
    ];
    $("#import-counts").innerHTML = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v))}</dd>`).join("");
    const label = n.detected ? (n.detected === "fdi" ? "FDI" : "Universal") : "not decided";
    $("#import-notation-detected").textContent = `${label}${n.certain ? "" : " (unsure: check and choose)"}`;
    $("#import-evidence").innerHTML = n.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join("");
    $("#import-notation").value = notation || n.detected || "universal";
    $("#import-preview-box").hidden = false;
  }

  async startImport() {
    const body = { source: $("#import-source").value.trim(), notation: $("#import-notation").value };
    await this.run("api/migration/import", body);
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
      job = await this.follow(job.id);
    } finally {
      $("#migration-run").disabled = false;
      $("#import-start").disabled = false;
    }
    if (job.state === "done") {
      $("#migration-message").textContent = job.result.summary;
      toast(job.result.exit_code === 0 ? "Everything came across." : "Finished; see the report for what did not come across.", job.result.exit_code === 0 ? "ok" : "info");
      if (this.onImported) await this.onImported();
    } else {
      $("#migration-message").textContent = job.error ? job.error.message : `The job was ${job.state}.`;
      toast($("#migration-message").textContent, "error");
    }
    await this.show();
  }

  async follow(id) {
    for (;;) {
      const job = await api("GET", `api/migration/jobs/${id}`);
      const p = job.progress;
      $("#migration-bar").value = p.total ? p.current / p.total : 0;
      $("#migration-message").textContent = p.message;
      $("#migration-counts").textContent = countsText(job.counts);
      if (job.state !== "running") return job;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
