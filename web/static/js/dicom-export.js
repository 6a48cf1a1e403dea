// DICOM out: "Export as DICOM…" of the tooth panel (tick images, save them to a folder or send
// them to the clinic's DICOM node, follow the job) and the DICOM node section of Settings.
import { t, tn } from "./i18n.js";
import { api, chooseFolder } from "./bridge.js";
import { pollJob, progressFraction } from "./jobs.js";
import { $, TYPE_LABELS, escapeHtml, formatDate } from "./ui.js";

const NODE_API = "api/dicom-node";

/** The export dialog: the images it was opened with, all ticked; one export at a time. */
export class DicomExport {
  constructor() {
    this.dialog = $("#dicom-export-dialog");
    this.form = this.dialog.querySelector("form");
    this.running = false;
    this.form.addEventListener("submit", (event) => {
      if (event.submitter?.value !== "export") return; // Close: the dialog closes by itself
      event.preventDefault();
      this.start();
    });
    this.dialog.addEventListener("cancel", (event) => {
      if (this.running) event.preventDefault(); // the job goes on; its answer is shown here
    });
    $("#dicom-export-choose").addEventListener("click", async () => {
      const folder = await chooseFolder();
      if (folder) this.form.elements.folder.value = folder;
    });
  }

  /** Open for `patient` ({id, full_name}) with `images` (what the panel shows). */
  async open(patient, images) {
    if (this.running) {
      this.dialog.showModal();
      return;
    }
    this.patient = patient;
    $("#dicom-export-title").textContent = t("Export as DICOM: {name}", { name: patient.full_name });
    const list = $("#dicom-export-images");
    list.querySelectorAll("label").forEach((row) => row.remove());
    for (const image of images) {
      const row = document.createElement("label");
      row.className = "check";
      const kind = image.dicom ? t("DICOM x-ray, sent as it is") : t("photo, made into DICOM");
      const date = formatDate(image.taken_date || image.created_at);
      row.innerHTML = `<input type="checkbox" name="image" value="${escapeHtml(image.id)}" checked> <span><bdi>${escapeHtml(TYPE_LABELS[image.image_type] || image.image_type)}</bdi> · <bdi>${escapeHtml(date)}</bdi> · <bdi>${escapeHtml(image.original_name || image.file_name)}</bdi> (${escapeHtml(kind)})</span>`;
      list.append(row);
    }
    this.showResult(null);
    this.say("");
    $("#dicom-export-progress").hidden = true;
    this.dialog.showModal();
    await this.loadNode();
  }

  async loadNode() {
    const nodeChoice = this.form.querySelector('input[name="to"][value="node"]');
    try {
      this.node = await api("GET", NODE_API);
    } catch (error) {
      this.node = { configured: false };
      this.say(error.message);
    }
    nodeChoice.disabled = !this.node.configured;
    $("#dicom-export-node-label").textContent = this.node.configured
      ? t("Send to {name} ({ae} at {host}:{port})", { name: this.node.name, ae: this.node.ae_title, host: this.node.host, port: String(this.node.port) })
      : t("Send to a DICOM node (none is set: see Settings, DICOM node)");
    if (!this.node.configured) this.form.querySelector('input[name="to"][value="folder"]').checked = true;
  }

  say(text) {
    this.form.querySelector(".form-error").textContent = text;
  }

  async start() {
    const f = this.form.elements;
    const imageIds = [...this.form.querySelectorAll('input[name="image"]:checked')].map((box) => box.value);
    if (!imageIds.length) {
      this.say(t("Tick at least one image."));
      return;
    }
    const body = { image_ids: imageIds, to: f.to.value };
    if (body.to === "folder") body.folder = f.folder.value.trim();
    this.say("");
    this.showResult(null);
    this.running = true;
    $("#dicom-export-start").disabled = true;
    try {
      const { job } = await api("POST", `api/patients/${this.patient.id}/dicom-export`, body);
      const done = await pollJob(job, (current) => this.showProgress(current));
      if (done.state === "done") this.showResult(done.result);
      else this.say(done.error?.message || t("The export stopped."));
    } catch (error) {
      this.say(error.message);
    } finally {
      this.running = false;
      $("#dicom-export-start").disabled = false;
    }
  }

  showProgress(job) {
    const box = $("#dicom-export-progress");
    box.hidden = false;
    box.querySelector("progress").value = progressFraction(job.progress);
    box.querySelector("p").textContent = job.progress.message;
  }

  /** What became of each image: written (its file name) or sent, or why not. */
  showResult(result) {
    const list = $("#dicom-export-result");
    list.replaceChildren();
    if (!result) return;
    $("#dicom-export-progress p").textContent = result.message;
    const names = new Map([...this.form.querySelectorAll('input[name="image"]')].map((box) => [box.value, box.nextElementSibling.textContent]));
    for (const item of result.items) {
      const row = document.createElement("li");
      const what = names.get(item.image_id) || item.image_id;
      const sent = t("sent");
      const outcome = item.ok ? `✔ ${item.file ? `<bdi dir="ltr">${escapeHtml(item.file)}</bdi>` : escapeHtml(sent)}` : `✖ ${escapeHtml(item.error)}`;
      row.innerHTML = `<bdi>${escapeHtml(what)}</bdi>: ${outcome}${item.warning ? ` (${escapeHtml(item.warning)})` : ""}`;
      row.className = item.ok ? "ok-text" : "warning";
      list.append(row);
    }
    if (result.failed) this.say(tn("{n} image was not exported.", "{n} images were not exported.", result.failed));
  }
}

/** Settings → DICOM node: the PACS or referral viewer exports are sent to (the clinic's). */
export class DicomNodeSection {
  constructor() {
    this.form = $("#dicom-node-form");
    // Each load, save, test or edit makes the earlier ones' late answers stale: the node saved
    // as it was when Settings opened never overwrites what was typed or said since.
    this.asked = 0;
    this.form.addEventListener("input", () => (this.asked += 1));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("#dicom-node-test").addEventListener("click", () => this.test());
  }

  async show() {
    const asked = ++this.asked;
    try {
      const node = await api("GET", NODE_API);
      if (asked === this.asked) this.render(node);
    } catch (error) {
      if (asked === this.asked) this.say(`✖ ${error.message}`, "warning");
    }
  }

  values() {
    const f = this.form.elements;
    return Object.fromEntries(["name", "ae_title", "host", "port", "calling_ae_title"].map((name) => [name, f[name].value.trim()]));
  }

  render(node) {
    const f = this.form.elements;
    for (const name of ["name", "ae_title", "host", "port", "calling_ae_title"]) f[name].value = node[name] ?? "";
    this.say(node.configured ? t("Exports can be sent to {name}.", { name: node.name }) : t("No DICOM node is set: exports can only be saved to a folder."), "muted");
  }

  say(text, kind) {
    const line = $("#dicom-node-status");
    line.textContent = text;
    line.className = kind;
  }

  async save() {
    const asked = ++this.asked;
    try {
      const node = await api("PUT", NODE_API, this.values());
      if (asked === this.asked) this.render(node);
    } catch (error) {
      if (asked === this.asked) this.say(`✖ ${error.message}`, "warning");
    }
  }

  async test() {
    const asked = ++this.asked;
    this.say(t("Testing the connection…"), "muted");
    try {
      const answer = await api("POST", `${NODE_API}/test`, this.values());
      if (asked === this.asked) this.say(`✔ ${answer.message}`, "ok-text");
    } catch (error) {
      if (asked === this.asked) this.say(`✖ ${error.message}`, "warning");
    }
  }
}
