// The upload tray: every upload is bound to the patient, tooth and type it started with, and
// its progress stays in sight (bottom corner of the window) until it ends, whatever the person
// opens meanwhile. Its outcome names the patient and the tooth.
import { formatNumber, t, tn } from "./i18n.js";
import { uploadFile } from "./bridge.js";
import { $, TYPE_LABELS, confirmAction, escapeHtml, formatBytes, toast } from "./ui.js";

const UPLOAD_CONCURRENCY = 2;
const KEEP_DONE_MS = 8000; // a batch with no refusal leaves the tray by itself after this

const TEXT = {
  heading: (b) => `${b.patientName} · ${b.place} · ${TYPE_LABELS[b.imageType]}`,
  waiting: t("Waiting…"),
  checking: t("Checking…"),
  stored: t("Stored"),
  tooLarge: (size, limit) => t("The file is {size}; the limit is {limit}. Make it smaller (e.g. export it as JPEG) and add it again.", { size, limit }),
  running: (done, total) => t("{done} of {total}", { done, total }),
  close: t("Close"),
  closeLabel: (b) => t("Close the upload list of {patient}, {place}", { patient: b.patientName, place: b.place }),
  summary: (stored, failed) => (failed ? t("{stored} stored, {failed} refused", { stored, failed }) : t("{stored} stored", { stored })),
  toastOk: (b, stored) => tn("{n} image stored for {patient}, {place}.", "{n} images stored for {patient}, {place}.", stored, { patient: b.patientName, place: b.place }),
  toastFailed: (b, stored, failed) => t("{patient}, {place}: {stored} stored, {failed} refused — see the upload list for the reasons.", { patient: b.patientName, place: b.place, stored, failed }),
  noName: t("(no name)"),
};

/** One file's row in its batch: progress, then its outcome. */
function fileRow(list, name) {
  const item = document.createElement("li");
  item.innerHTML = `<span class="name">${escapeHtml(name)}</span><progress max="1" value="0"></progress><span class="state">${escapeHtml(TEXT.waiting)}</span>`;
  list.append(item);
  const state = item.querySelector(".state");
  const bar = item.querySelector("progress");
  return {
    progress: (fraction) => {
      bar.value = fraction;
      state.textContent = fraction < 1 ? formatNumber(fraction, { style: "percent" }) : TEXT.checking;
    },
    done: () => {
      item.className = "ok";
      bar.value = 1;
      state.textContent = TEXT.stored;
    },
    fail: (message) => {
      item.className = "failed";
      state.textContent = message;
    },
  };
}

export class UploadTray {
  /** `limits()` gives {maxBytes, maxDicomBytes} as the server has it (from the settings); `onFinished(batch)`
   * runs when a batch has ended with at least one file stored (the views refresh). */
  constructor({ limits, onFinished }) {
    this.tray = $("#upload-tray");
    this.limits = limits;
    this.onFinished = onFinished;
    this.running = 0;
  }

  /** Upload `files` to the target fixed now: {patient: {id, full_name}, tooth, toothLabel,
   * place ("tooth 8", "the whole mouth"), imageType, treatmentId, takenDate (YYYY-MM-DD for the whole batch, or "")}; `errors` ([{name, message}]) are files refused before the upload
   * (by the native dialog). Resolves when the batch has ended. */
  async start({ patient, tooth, toothLabel, place, imageType, treatmentId, takenDate, files, errors = [] }) {
    this.dropFinished(); // the tray shows the latest uploads, and those still running
    const batch = { patientId: patient.id, patientName: patient.full_name || TEXT.noName, tooth, toothLabel, place: place || t("tooth {label}", { label: toothLabel }), imageType, imageIds: [] };
    const box = this.batchBox(batch);
    const list = box.querySelector("ul");
    const status = box.querySelector(".batch-status");
    let stored = 0;
    let failed = 0;
    for (const error of errors) {
      fileRow(list, error.name).fail(error.message);
      failed += 1;
    }
    const { maxBytes, maxDicomBytes } = this.limits();
    const queue = [];
    for (const file of files) {
      const row = fileRow(list, file.name || t("pasted image"));
      // a DICOM file (its DICM mark, whatever its name) may be larger than a photo
      const limit = maxDicomBytes && file.size > maxBytes && (await isDicom(file)) ? maxDicomBytes : maxBytes;
      if (limit && file.size > limit) {
        row.fail(TEXT.tooLarge(formatBytes(file.size), formatBytes(limit))); // not sent at all
        failed += 1;
      } else {
        queue.push({ file, row });
      }
    }
    const total = queue.length;
    const path = `api/patients/${encodeURIComponent(patient.id)}/teeth/${encodeURIComponent(tooth)}/images`;
    const fields = { image_type: imageType, treatment_id: treatmentId, taken_date: takenDate };
    let ended = 0;
    const showProgress = () => {
      status.textContent = TEXT.running(ended, total);
    };
    showProgress();
    const worker = async () => {
      while (queue.length) {
        const { file, row } = queue.shift();
        try {
          const answer = await uploadAsking(path, file, fields, row.progress);
          for (const result of answer?.results || []) if (result.image) batch.imageIds.push(result.image.id);
          row.done();
          stored += 1;
        } catch (error) {
          row.fail(error.results?.[0]?.error?.message || error.message);
          failed += 1;
        }
        ended += 1;
        showProgress();
      }
    };
    this.running += 1;
    box.classList.add("running");
    try {
      await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
    } finally {
      this.running -= 1;
      box.classList.remove("running");
      box.classList.add(failed ? "finished-with-refusals" : "finished");
    }
    status.textContent = TEXT.summary(stored, failed);
    box.querySelector(".close").hidden = false;
    if (!failed) setTimeout(() => this.remove(box), KEEP_DONE_MS);
    if (stored) await this.onFinished(batch);
    toast(failed ? TEXT.toastFailed(batch, stored, failed) : TEXT.toastOk(batch, stored), failed ? "error" : "ok");
  }

  batchBox(batch) {
    const box = document.createElement("section");
    box.className = "upload-batch";
    box.dataset.patientId = batch.patientId;
    box.dataset.tooth = batch.tooth;
    box.innerHTML = `<header><strong class="batch-title">${escapeHtml(TEXT.heading(batch))}</strong>
      <span class="batch-status"></span>
      <button type="button" class="close" hidden title="${escapeHtml(TEXT.close)}" aria-label="${escapeHtml(TEXT.closeLabel(batch))}">✕</button></header>
      <ul class="upload-list"></ul>`;
    box.querySelector(".close").addEventListener("click", () => this.remove(box));
    this.tray.append(box);
    this.tray.hidden = false;
    return box;
  }

  dropFinished() {
    for (const box of this.tray.querySelectorAll(".upload-batch:not(.running)")) box.remove();
  }

  remove(box) {
    box.remove();
    this.tray.hidden = !this.tray.querySelector(".upload-batch");
  }
}

let asking = Promise.resolve();

/** Upload one file; when it is a DICOM x-ray naming another patient, ask (one question at a
 * time) and send it again with the server's confirm field if the user agrees. */
async function uploadAsking(path, file, fields, onProgress) {
  try {
    return await uploadFile(path, file, fields, onProgress);
  } catch (error) {
    const refusal = error.results?.[0]?.error;
    if (refusal?.code !== "patient_mismatch") throw error;
    const ask = () => confirmAction(t("Another patient's x-ray?"), refusal.message, t("Store it here"));
    asking = asking.then(ask, ask);
    if (!(await asking)) throw error;
    return uploadFile(path, file, { ...fields, [refusal.confirm_field]: "1" }, onProgress);
  }
}

/** Whether `file` is a DICOM Part 10 file: "DICM" after its 128-byte preamble. */
async function isDicom(file) {
  const mark = new Uint8Array(await file.slice(128, 132).arrayBuffer());
  return String.fromCharCode(...mark) === "DICM";
}
