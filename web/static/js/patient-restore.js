// Settings → Backup and restore → Restore one patient: pick a backup (one listed here or any
// file), open it (checked on the server, as a job), find the patient in it, see what comes
// back and what it replaces, then restore that patient alone.
import { formatDate, label, t, tn } from "./i18n.js";
import { ViewQuestion, api, isSuperseded } from "./bridge.js";
import { followJob, list } from "./backup.js";
import { withPassphrase } from "./passphrase.js";
import { $, confirmAction, escapeHtml, formatBytes, toast } from "./ui.js";

const SEARCH_DELAY_MS = 200;

export class PatientRestore {
  /** `section`: the backup section (its file picker and its one-job-at-a-time rule);
   * `onDataChanged`: called once a patient came back (the patient list shows them). */
  constructor(section, { onDataChanged }) {
    this.section = section;
    this.onDataChanged = onDataChanged;
    this.token = null;
    this.patientId = null;
    this.questions = { backups: new ViewQuestion(), patients: new ViewQuestion() };
    $("#patient-restore-choose").addEventListener("click", () => this.start());
    $("#patient-restore-close").addEventListener("click", () => this.close());
    $("#patient-restore-open").addEventListener("click", () => {
      const path = $("#patient-restore-backup").value;
      if (path) this.section.exclusive(() => this.openBackup(path));
    });
    $("#patient-restore-file").addEventListener("click", () => this.section.exclusive(async () => {
      const path = await this.section.pickArchive();
      if (path) await this.openBackup(path);
    }));
    let timer = null;
    $("#patient-restore-search").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
    });
    $("#patient-restore-list").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-id]");
      if (button) this.section.exclusive(() => this.preview(button.dataset.id));
    });
    $("#patient-restore-back").addEventListener("click", () => this.showPick());
    $("#patient-restore-confirm").addEventListener("click", () => this.section.exclusive(() => this.restore()));
  }

  async start() {
    $("#patient-restore-result").innerHTML = "";
    $("#patient-restore").hidden = false;
    $("#patient-restore-pick").hidden = true;
    $("#patient-restore-preview").hidden = true;
    const select = $("#patient-restore-backup");
    const ask = this.questions.backups.ask();
    try {
      const { backups } = await ask.get("api/backups");
      select.replaceChildren(...backups.map((b) => {
        const option = document.createElement("option");
        option.value = b.path;
        option.textContent = `${b.name} · ${formatDate(b.modified, { dateStyle: "medium", timeStyle: "short" })} · ${formatBytes(b.size_bytes)}`;
        return option;
      }));
      $("#patient-restore-open").disabled = !backups.length;
      if (!backups.length) select.innerHTML = `<option value="">${escapeHtml(t("No backup files yet."))}</option>`;
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      $("#patient-restore-result").innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>`;
    }
    select.focus();
  }

  async close() {
    this.questions.patients.cancel();
    $("#patient-restore").hidden = true;
    if (this.token) await api("DELETE", `api/patient-restore/${this.token}`).catch(() => {});
    this.token = null;
    this.patientId = null;
    $("#patient-restore-choose").focus();
  }

  async openBackup(path) {
    const out = $("#patient-restore-result");
    out.innerHTML = "";
    $("#patient-restore-pick").hidden = true;
    $("#patient-restore-preview").hidden = true;
    try {
      const asked = await withPassphrase(t("This backup is encrypted: type its passphrase."), async (passphrase) => {
        return followJob(await api("POST", "api/patient-restore/open", passphrase === null ? { path } : { path, passphrase }));
      });
      if (!asked) {
        out.innerHTML = `<p class="muted">${escapeHtml(t("Not opened: the backup is encrypted and no passphrase was given. Nothing was changed."))}</p>`;
        return;
      }
      const done = asked.result;
      if (done.state !== "done") throw done.error || { message: t("Cancelled.") };
      if (this.token) api("DELETE", `api/patient-restore/${this.token}`).catch(() => {});
      this.token = done.result.token;
      const r = done.result;
      const made = r.created_at ? formatDate(r.created_at, { dateStyle: "medium", timeStyle: "short" }) : t("a backup of the earlier app");
      $("#patient-restore-opened").textContent = t("Backup {name}, made {made}: {patients}.", { name: r.name, made, patients: tn("{n} patient", "{n} patients", r.total) });
      $("#patient-restore-search").value = "";
      this.renderPatients(r.patients);
      this.showPick();
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>${list(error.problems)}`;
    }
  }

  showPick() {
    $("#patient-restore-preview").hidden = true;
    $("#patient-restore-pick").hidden = false;
    $("#patient-restore-search").focus();
  }

  async search() {
    if (!this.token) return;
    const ask = this.questions.patients.ask();
    const query = encodeURIComponent($("#patient-restore-search").value.trim());
    try {
      const found = await ask.get(`api/patient-restore/${this.token}/patients?q=${query}`);
      if (ask.current) this.renderPatients(found.patients);
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      $("#patient-restore-list").innerHTML = `<li class="warning">${escapeHtml(error.message)}</li>`;
    }
  }

  renderPatients(patients) {
    const box = $("#patient-restore-list");
    if (!patients.length) {
      box.innerHTML = `<li class="muted">${escapeHtml(t("No patient of the backup matches."))}</li>`;
      return;
    }
    box.innerHTML = patients.map((p) => {
      const name = p.full_name || t("(no name)");
      const serial = t("No. {serial}", { serial: p.serial_number });
      const counts = `${tn("{n} image", "{n} images", p.image_count)}${t(", ")}${tn("{n} treatment", "{n} treatments", p.treatment_count)}`;
      return `<li><button type="button" data-id="${escapeHtml(p.id)}"><bdi class="name">${escapeHtml(name)}</bdi><span class="muted">${escapeHtml(serial)}</span><span class="muted">${escapeHtml(counts)}</span></button></li>`;
    }).join("");
  }

  async preview(patientId) {
    const out = $("#patient-restore-result");
    out.innerHTML = "";
    try {
      const done = await followJob(await api("POST", `api/patient-restore/${this.token}/preview`, { patient: patientId }));
      if (done.state !== "done") throw done.error || { message: t("Cancelled.") };
      this.patientId = patientId;
      this.renderPreview(done.result, await this.toothLabels());
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>${list(error.problems)}`;
    }
  }

  /** Each tooth's label in the numbering chosen on the Settings page. */
  async toothLabels() {
    const notation = encodeURIComponent($("#settings-notation").value || "universal");
    try {
      const facts = await api("GET", `api/teeth?notation=${notation}`);
      return Object.fromEntries(Object.entries(facts.teeth).map(([code, tooth]) => [code, tooth.label]));
    } catch {
      return {}; // the stored codes are shown instead
    }
  }

  renderPreview(p, labels = {}) {
    const patient = p.patient;
    $("#patient-restore-name").textContent = patient.full_name || t("(no name)");
    const facts = [
      [t("Serial number"), patient.serial_number],
      [t("Phone"), patient.phone || "—"],
      [t("From"), p.name],
      [t("Here now"), p.exists ? t("Yes: the record is replaced by the backup's") : t("No: the patient is added back")],
      [t("Images"), String(p.comes_back.images)],
      [t("Treatments"), String(p.comes_back.treatments)],
      [t("Files to copy in"), `${p.comes_back.files_to_copy} (${formatBytes(p.comes_back.bytes_to_copy)})`],
    ];
    $("#patient-restore-facts").innerHTML = facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd dir="auto">${escapeHtml(String(v))}</dd>`).join("");
    const rows = p.comes_back.by_place.map((place) => {
      const where = place.tooth === "general" ? t("Whole mouth / general") : t("Tooth {tooth}", { tooth: labels[place.tooth] || place.tooth });
      const kind = label("image_types", place.image_type);
      return `<tr><td>${escapeHtml(where)}</td><td>${escapeHtml(kind)}</td><td>${escapeHtml(String(place.count))}</td></tr>`;
    });
    const head = [t("Where"), t("Type"), t("Images")].map((text) => `<th>${escapeHtml(text)}</th>`).join("");
    $("#patient-restore-places").innerHTML = rows.length ? `<thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody>` : "";
    $("#patient-restore-lines").innerHTML = p.lines.map((line) => `<li>${escapeHtml(line)}</li>`).join("") + (p.warnings || []).map((line) => `<li class="muted">${escapeHtml(line)}</li>`).join("");
    $("#patient-restore-problems").innerHTML = p.problems.map((line) => `<li class="warning">✖ ${escapeHtml(line)}</li>`).join("");
    $("#patient-restore-confirm").hidden = p.problems.length > 0;
    $("#patient-restore-pick").hidden = true;
    $("#patient-restore-preview").hidden = false;
    $("#patient-restore-confirm").focus();
  }

  async restore() {
    if (!this.token || !this.patientId) return;
    const name = $("#patient-restore-name").textContent;
    const ok = await confirmAction(t("Restore {name} from the backup?", { name }), t("This patient's record, and the treatments and images the backup holds, are replaced by the backup's. Nothing else changes. A safety backup of the current database is made first."), t("Restore"));
    if (!ok) return;
    const out = $("#patient-restore-result");
    try {
      const done = await followJob(await api("POST", `api/patient-restore/${this.token}/restore`, { patient: this.patientId, confirm: true }));
      if (done.state === "cancelled") {
        out.innerHTML = `<p class="muted">${escapeHtml(t("Restore cancelled. Nothing was changed."))}</p>`;
        return;
      }
      if (done.state !== "done") throw done.error;
      const r = done.result;
      const text = t("{name} restored: {images}, {treatments}. The previous database is in the safety backup {path}.", {
        name: `<bdi>${escapeHtml(r.patient.full_name)}</bdi>`,
        images: escapeHtml(tn("{n} image", "{n} images", r.images)),
        treatments: escapeHtml(tn("{n} treatment", "{n} treatments", r.treatments)),
        path: `<code dir="ltr">${escapeHtml(r.safety_backup)}</code>`,
      });
      this.token = null;
      $("#patient-restore").hidden = true;
      out.innerHTML = `<p class="ok-text" id="patient-restore-done">✔ ${text}</p>`;
      toast(t("Patient restored."), "ok");
      await this.onDataChanged();
      await this.section.loadList();
    } catch (error) {
      out.innerHTML = `<p class="warning">✖ ${escapeHtml(error.message)}</p>${list(error.problems)}`;
    }
  }
}
