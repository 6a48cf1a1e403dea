// The panel of one tooth: images by type, uploads, the timeline, and the tooth's treatments.
import { formatDate as formatLocalDate, formatNumber, t, tn } from "./i18n.js";
import { currentTrashDays } from "./trash.js";
import { ViewQuestion, api, appUrl, chooseImageFiles, isSuperseded } from "./bridge.js";
import { STATUS_COLORS, STATUS_LABELS } from "./chart.js";
import { alsoOnText, editImageTeeth, teethText } from "./image-teeth.js";
import { DicomExport } from "./dicom-export.js";
import {
  $, IMAGE_TYPES, TYPE_LABELS, confirmAction, escapeHtml, formatBytes, formatDate, runFormDialog, takenText, toast,
} from "./ui.js";

/** The place of a patient's images that belong to no one tooth (a panoramic x-ray, a
 * portrait): opened in this panel like a tooth, without treatments. */
export const GENERAL = "general";
const NEW_MARK_MS = 4000; // how long new uploads stay marked

const TEXT = {
  loading: t("Loading…"),
  loadFailed: (message) => t("The images of this tooth could not be loaded: {message}", { message }),
  generalTitle: t("Whole mouth / general · images of no one tooth"),
  place: (code, label) => (code === GENERAL ? t("the whole mouth") : t("tooth {label}", { label })),
  noImages: (kind, place) => (kind ? t("No {kind} images of {place} yet.", { kind, place }) : t("No images of {place} yet.", { place })),
  notImages: (formats) => t("Only images can be added to a tooth ({formats}). Save a PDF or a document as an image first.", { formats }),
  missingFile: t("File missing"),
  expectedAt: t("Expected at"),
  checkAndRepair: t("Check and repair"),
  checkAndRepairHint: t("Looks for the file in the data folder and links it again if it was moved"),
};

export class ToothPanel {
  /** `startUpload({patient, tooth, toothLabel, imageType, treatmentId, files, errors})` hands
   * files to the upload tray, which binds them to that patient and tooth for good. */
  constructor({ onChanged, openViewer, openCompare, teethFacts, startUpload, imageFormats }) {
    this.onChanged = onChanged;
    this.startUpload = startUpload;
    this.imageFormats = imageFormats;
    this.question = new ViewQuestion();
    this.openViewer = openViewer;
    this.openCompare = openCompare;
    this.teethFacts = teethFacts;
    this.patient = null;
    this.tooth = null;
    this.tab = "all";
    this.images = [];
    this.treatments = [];
    this.bindEvents();
  }

  bindEvents() {
    const zone = $("#drop-zone");
    $("#choose-files").addEventListener("click", (e) => {
      e.stopPropagation();
      this.chooseFiles();
    });
    zone.addEventListener("keydown", (e) => {
      if (e.target === zone && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        this.chooseFiles();
      }
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      const files = Array.from(e.dataTransfer.files || []);
      if (files.length) this.upload(files);
    });
    document.addEventListener("paste", (e) => {
      if (!this.tooth || $("#tooth-panel").hidden || document.querySelector("dialog[open]")) return;
      const pasted = Array.from(e.clipboardData?.files || []);
      const files = pasted.filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        e.preventDefault();
        this.upload(files.map((f, i) => new File([f], f.name && f.name !== "image.png" ? f.name : `pasted-${Date.now()}-${i}.png`, { type: f.type })));
      } else if (pasted.length) {
        e.preventDefault();
        toast(TEXT.notImages(this.imageFormats()), "error");
      }
    });
    $("#add-treatment").addEventListener("click", () => this.editTreatment(null));
    $("#open-compare").addEventListener("click", () => this.openCompare(this.images));
    this.dicomExport = new DicomExport();
    $("#export-dicom").addEventListener("click", () => this.dicomExport.open(this.patient, this.visibleImages()));
  }

  /** Open `tooth` of `patient` ({id, full_name}): the title says at once which tooth is asked
   * for, and the grid stays empty until that tooth's own answer is in. */
  async show(patient, tooth) {
    const changed = !this.patient || this.patient.id !== patient.id || this.tooth !== tooth;
    this.patient = patient;
    this.tooth = tooth;
    $("#tooth-panel").hidden = false;
    $("#tooth-hint").hidden = true;
    if (changed) {
      $("#upload-taken-date").value = ""; // a batch's date is for that tooth's uploads only
      this.renderLoading();
    }
    await this.refresh();
  }

  /** Close the panel; an answer still on its way for it is dropped. */
  hide() {
    this.question.cancel();
    this.tooth = null;
    this.images = [];
    this.treatments = [];
    $("#tooth-panel").hidden = true;
    $("#tooth-hint").hidden = false;
  }

  /** Is the panel showing this patient's tooth? */
  shows(patientId, tooth) {
    return Boolean(this.tooth && this.patient && this.patient.id === patientId && this.tooth === tooth);
  }

  setTeethFacts(facts) {
    this.teethFacts = facts;
    if (!this.tooth) return;
    this.renderTitle();
    // the cards' "also on …" name teeth in the numbering just chosen
    if ($("#tooth-panel").getAttribute("aria-busy") !== "true") this.renderImages();
  }

  renderLoading() {
    this.images = [];
    this.treatments = [];
    const panel = $("#tooth-panel");
    panel.setAttribute("aria-busy", "true");
    this.renderTitle();
    this.renderTabs({ loading: true });
    $("#image-grid").hidden = false;
    $("#timeline").hidden = true;
    $("#image-grid").innerHTML = `<p class="muted empty loading">${escapeHtml(TEXT.loading)}</p>`;
    $("#treatment-list").innerHTML = `<li class="muted">${escapeHtml(TEXT.loading)}</li>`;
  }

  /** Ask for the open tooth's images and treatments; only the answer to the latest question
   * is shown (an earlier tooth's late answer is dropped). */
  async refresh() {
    if (!this.tooth) return;
    const ask = this.question.ask();
    const base = `api/patients/${this.patient.id}`;
    let images;
    let treatments;
    const general = this.tooth === GENERAL; // no treatments: they belong to teeth
    try {
      [images, treatments] = await Promise.all([
        ask.get(`${base}/teeth/${encodeURIComponent(this.tooth)}/images`),
        general ? { treatments: [] } : ask.get(`${base}/treatments?tooth=${encodeURIComponent(this.tooth)}`),
      ]);
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      $("#tooth-panel").removeAttribute("aria-busy");
      $("#image-grid").hidden = false;
      $("#timeline").hidden = true;
      $("#image-grid").innerHTML = `<p class="warning empty">${escapeHtml(TEXT.loadFailed(error.message))}</p>`;
      return;
    }
    if (!ask.current) return;
    $("#tooth-panel").removeAttribute("aria-busy");
    this.images = images.images;
    this.treatments = treatments.treatments;
    this.renderTitle();
    this.renderTabs();
    this.renderImages();
    this.renderTreatments();
  }

  renderTitle() {
    const general = this.tooth === GENERAL;
    $("#treatments").hidden = general;
    $("#upload-treatment").closest("label").hidden = general;
    if (general) {
      $("#tooth-title").textContent = TEXT.generalTitle;
      return;
    }
    const facts = this.teethFacts[this.tooth];
    $("#tooth-title").textContent = t("Tooth {label} · {name}", { label: facts.label, name: facts.name });
  }

  /** "tooth 8" or "the whole mouth": where an image of `code` (a tooth, GENERAL or null) is. */
  placeName(code) {
    const place = code || GENERAL;
    return TEXT.place(place, this.teethFacts[place]?.label);
  }

  renderTabs({ loading = false } = {}) {
    const counts = Object.fromEntries(IMAGE_TYPES.map((t) => [t, 0]));
    for (const image of this.images) counts[image.image_type] += 1;
    const count = (n) => (loading ? "…" : n);
    const tabs = [["all", t("All"), count(this.images.length)], ...IMAGE_TYPES.map((type) => [type, TYPE_LABELS[type], count(counts[type])]), ["timeline", t("Timeline"), null]];
    const bar = $("#type-tabs");
    bar.replaceChildren(...tabs.map(([key, label, count]) => {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.dataset.tab = key;
      tab.setAttribute("aria-selected", String(this.tab === key));
      tab.tabIndex = this.tab === key ? 0 : -1;
      tab.innerHTML = `${label}${count === null ? "" : ` <span class="count">${typeof count === "number" ? formatNumber(count) : count}</span>`}`;
      tab.addEventListener("click", () => this.selectTab(key));
      return tab;
    }));
    bar.onkeydown = (e) => {
      const keys = tabs.map((t) => t[0]);
      const index = keys.indexOf(this.tab);
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        // the tabs run from the inline start: in Arabic (right to left) ArrowLeft is the next one
        const forward = (e.key === "ArrowRight") !== (document.documentElement.dir === "rtl");
        const next = keys[(index + (forward ? 1 : keys.length - 1)) % keys.length];
        this.selectTab(next);
        bar.querySelector(`[data-tab="${next}"]`).focus();
      }
    };
    const comparable = this.images.length >= 2;
    $("#compare-dialog").dataset.ready = String(comparable);
    $("#open-compare").disabled = !comparable;
    $("#open-compare").title = comparable ? "" : t("Needs two images of this tooth");
    $("#export-dicom").disabled = !this.images.length;
  }

  selectTab(key) {
    this.tab = key;
    if (IMAGE_TYPES.includes(key)) $("#upload-type").value = key;
    if ($("#tooth-panel").getAttribute("aria-busy") === "true") return this.renderTabs({ loading: true });
    this.renderTabs();
    this.renderImages();
  }

  /** New images of `imageType` landed on the open tooth: show a tab where they are seen. */
  showUploaded(imageType) {
    if (this.tab !== "timeline" && this.tab !== imageType) this.tab = "all";
  }

  /** Images just uploaded to this tooth: marked for a moment, and scrolled to where the user
   * is looking if the grid had them out of sight. */
  revealImages(imageIds) {
    const cards = [...this.shownCards()].filter((card) => imageIds.includes(card.dataset.imageId));
    if (!cards.length) return;
    for (const card of cards) card.classList.add("new");
    setTimeout(() => cards.forEach((card) => card.classList.remove("new")), NEW_MARK_MS);
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    cards[0].scrollIntoView({ block: "nearest", behavior: smooth ? "smooth" : "auto" });
  }

  visibleImages() {
    return this.tab === "all" || this.tab === "timeline" ? this.images : this.images.filter((i) => i.image_type === this.tab);
  }

  renderImages() {
    const grid = $("#image-grid");
    const timeline = $("#timeline");
    const showTimeline = this.tab === "timeline";
    grid.hidden = showTimeline;
    timeline.hidden = !showTimeline;
    if (showTimeline) return this.renderTimeline();
    const images = this.visibleImages();
    if (!images.length) {
      grid.innerHTML = `<p class="muted empty">${escapeHtml(TEXT.noImages(this.tab === "all" ? "" : TYPE_LABELS[this.tab], this.placeName(this.tooth)))}</p>`;
      return;
    }
    grid.replaceChildren(...images.map((image, index) => this.card(image, images, index)));
  }

  card(image, list, index) {
    const card = document.createElement("figure");
    card.className = "image-card";
    card.dataset.imageId = image.id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "thumb";
    open.setAttribute("aria-label", t("View {type} image {name}", { type: TYPE_LABELS[image.image_type], name: image.original_name || image.file_name }));
    open.append(thumbnail(image));
    open.addEventListener("click", () => this.openViewer(list, index));
    const caption = document.createElement("figcaption");
    caption.innerHTML = `
      <span class="chip type-${image.image_type}">${TYPE_LABELS[image.image_type]}</span>
      <span class="date">${escapeHtml(formatDate(image.taken_date || image.created_at))}</span>
      <span class="desc">${escapeHtml(image.description || image.original_name || "")}</span>`;
    const also = alsoOnText(image, this.tooth, this.teethFacts);
    if (also) {
      const mark = document.createElement("span");
      mark.className = "also-on";
      mark.textContent = also;
      caption.append(mark);
    }
    const actions = document.createElement("div");
    actions.className = "card-actions";
    actions.append(
      button(t("Teeth…"), () => this.editImageTeeth(image), t("Also shows teeth… ({name})", { name: image.file_name })),
      button(t("Edit"), () => this.editImage(image), t("Edit details of {name}", { name: image.file_name })),
      button(t("Delete"), () => this.deleteImage(image), t("Delete {name}", { name: image.file_name }), "danger"),
    );
    caption.append(actions);
    card.append(open, caption);
    return card;
  }

  renderTimeline() {
    const timeline = $("#timeline");
    const ordered = [...this.images].sort((a, b) => (a.taken_date || a.created_at).localeCompare(b.taken_date || b.created_at));
    if (!ordered.length) {
      timeline.innerHTML = `<p class="muted empty">${escapeHtml(TEXT.noImages("", this.placeName(this.tooth)))}</p>`;
      return;
    }
    const groups = new Map();
    for (const image of ordered) {
      const when = image.taken_date || image.created_at;
      const month = formatLocalDate(new Date(when.length === 10 ? `${when}T00:00:00` : when), { year: "numeric", month: "long" });
      if (!groups.has(month)) groups.set(month, []);
      groups.get(month).push(image);
    }
    timeline.replaceChildren(...[...groups].map(([month, images]) => {
      const section = document.createElement("section");
      section.className = "timeline-month";
      section.innerHTML = `<h4>${escapeHtml(month)}</h4>`;
      const row = document.createElement("div");
      row.className = "timeline-row";
      for (const image of images) row.append(this.card(image, ordered, ordered.indexOf(image)));
      section.append(row);
      return section;
    }));
  }

  renderTreatments() {
    const list = $("#treatment-list");
    if (!this.treatments.length) {
      list.innerHTML = `<li class="muted">${escapeHtml(t("No treatments recorded for this tooth."))}</li>`;
    } else {
      list.replaceChildren(...this.treatments.map((treatment) => {
        const item = document.createElement("li");
        item.innerHTML = `
          <span class="dot" style="background:${STATUS_COLORS[treatment.status]}"></span>
          <span class="swatch" style="background:${escapeHtml(treatment.color || "transparent")}" title="${escapeHtml(t("Colour"))}"></span>
          <strong>${escapeHtml(treatment.treatment_type)}</strong>
          <span class="status">${STATUS_LABELS[treatment.status]}</span>
          <span class="muted">${escapeHtml([formatDate(treatment.start_date), formatDate(treatment.completion_date)].filter(Boolean).join(" → "))}</span>
          <span class="muted notes">${escapeHtml(treatment.notes || "")}</span>`;
        item.append(button(t("Edit"), () => this.editTreatment(treatment), t("Edit treatment {name}", { name: treatment.treatment_type })));
        return item;
      }));
    }
    const select = $("#upload-treatment");
    const current = select.value;
    select.replaceChildren(new Option(t("— none —"), ""), ...this.treatments.map((t) => new Option(`${t.treatment_type} (${STATUS_LABELS[t.status]})`, t.id)));
    if (this.treatments.some((t) => t.id === current)) select.value = current;
  }

  async chooseFiles() {
    const target = this.uploadTarget(); // the tooth open when the person asked, not when they chose
    try {
      const { files, errors } = await chooseImageFiles();
      if (files.length || errors.length) this.startUpload({ ...target, files, errors });
    } catch (error) {
      toast(error.message, "error");
    }
  }

  /** Where files added now go: this patient, this tooth, the chosen type and treatment. */
  uploadTarget() {
    return {
      patient: { id: this.patient.id, full_name: this.patient.full_name },
      tooth: this.tooth,
      toothLabel: this.teethFacts[this.tooth].label,
      place: this.placeName(this.tooth),
      imageType: $("#upload-type").value,
      treatmentId: $("#upload-treatment").value,
      takenDate: $("#upload-taken-date").value, // empty: each file's own date, else the upload's
    };
  }

  upload(files) {
    if (!this.tooth) return;
    this.startUpload({ ...this.uploadTarget(), files, errors: [] });
  }

  async editImage(image) {
    const dialog = $("#image-dialog");
    const form = dialog.querySelector("form");
    form.elements.treatment_id.replaceChildren(new Option(t("— none —"), ""), ...this.treatments.map((t) => new Option(t.treatment_type, t.id)));
    form.elements.tooth.replaceChildren(...Object.entries(this.teethFacts).map(([code, f]) => new Option(code === GENERAL ? TEXT.generalTitle : `${f.label} · ${f.name}`, code)));
    $("#image-file-facts").textContent = `${image.path} · ${image.width}×${image.height} ${image.format} · ${formatBytes(image.size_bytes)}`;
    $("#image-date-source").textContent = takenText(image);
    const result = await runFormDialog(dialog, {
      description: image.description, taken_date: image.taken_date, treatment_id: image.treatment_id || "",
      tooth: image.tooth || GENERAL, image_type: image.image_type,
    }, (values) => {
      const changes = { description: values.description, taken_date: values.taken_date || null };
      const moved = values.tooth !== (image.tooth || GENERAL);
      if (moved) changes.tooth = values.tooth;
      if (values.image_type !== image.image_type) changes.image_type = values.image_type;
      if (!moved) changes.treatment_id = values.treatment_id || null;
      return api("PATCH", `api/images/${image.id}`, changes);
    });
    if (!result) return;
    if (result.tooth !== image.tooth || result.image_type !== image.image_type) {
      toast(t("Moved to {place}, {type}.", { place: this.placeName(result.tooth), type: TYPE_LABELS[result.image_type] }), "ok");
    } else {
      toast(t("Image details saved."), "ok");
    }
    const neighbour = this.neighbourOf(image.id);
    await this.refresh();
    await this.onChanged();
    this.focusCard(image.id, neighbour);
  }

  /** Choose the other teeth the image shows (image-teeth.js); the panel and the chart's counts
   * follow. */
  async editImageTeeth(image) {
    const result = await editImageTeeth(image, this.teethFacts, this.placeName(image.tooth));
    if (!result) return this.focusCard(image.id);
    toast(result.linked_teeth.length ? t("Now also shown on {teeth}.", { teeth: teethText(result.linked_teeth, this.teethFacts) }) : t("Shown on its own place only."), "ok");
    const neighbour = this.neighbourOf(image.id);
    await this.refresh();
    await this.onChanged();
    this.focusCard(image.id, neighbour);
  }

  /** The image after `imageId` in the grid (else the one before): where the focus goes when
   * that image leaves the grid. */
  neighbourOf(imageId) {
    const cards = [...this.shownCards()];
    const index = cards.findIndex((card) => card.dataset.imageId === imageId);
    if (index < 0) return null;
    return (cards[index + 1] || cards[index - 1])?.dataset.imageId || null;
  }

  /** The image cards on screen: the grid's, or the timeline's when that tab is open. */
  shownCards() {
    const root = this.tab === "timeline" ? $("#timeline") : $("#image-grid");
    return root.querySelectorAll(".image-card");
  }

  /** Redrawing the grid drops the focus: put it back on the image's card, or its neighbour's,
   * or the upload button when the grid is empty. */
  focusCard(...imageIds) {
    const cards = [...this.shownCards()];
    for (const id of imageIds) {
      const open = cards.find((card) => card.dataset.imageId === id)?.querySelector(".thumb");
      if (open) return open.focus();
    }
    $("#choose-files")?.focus();
  }

  async deleteImage(image) {
    const days = await currentTrashDays();
    let text = tn("{name} ({type}) goes to the trash: it can be restored from Settings → Trash for {n} day, then it is removed for good.", "{name} ({type}) goes to the trash: it can be restored from Settings → Trash for {n} days, then it is removed for good.", days, { name: image.original_name || image.file_name, type: TYPE_LABELS[image.image_type] });
    // An image of several teeth is one image: deleting it takes it off every one of them.
    const places = [image.tooth || GENERAL, ...(image.linked_teeth || [])];
    if (places.length > 1) {
      const everywhere = t("It goes from every tooth it is on ({places}); to take it off this tooth only, use Teeth….", { places: places.map((code) => this.placeName(code)).join(", ") });
      text = `${text} ${everywhere}`;
    }
    const ok = await confirmAction(t("Delete this image?"), text);
    if (!ok) return;
    const neighbour = this.neighbourOf(image.id);
    try {
      await api("DELETE", `api/images/${image.id}`);
      toast(t("Image moved to the trash."), "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    await this.refresh();
    await this.onChanged();
    this.focusCard(image.id, neighbour);
  }

  async editTreatment(treatment) {
    $("#treatment-dialog-title").textContent = treatment ? t("Edit treatment") : t("New treatment · tooth {label}", { label: this.teethFacts[this.tooth].label });
    $("#delete-treatment").hidden = !treatment;
    const values = treatment ? { ...treatment, cost: treatment.cost || "" } : { status: "planned", color: "#3b82f6" };
    const result = await runFormDialog($("#treatment-dialog"), values, (v) => {
      const body = { ...v, tooth: this.tooth, cost: v.cost || null, start_date: v.start_date || null, completion_date: v.completion_date || null };
      return treatment
        ? api("PATCH", `api/treatments/${treatment.id}`, body)
        : api("POST", `api/patients/${this.patient.id}/treatments`, body);
    }, treatment ? () => this.deleteTreatment(treatment) : null);
    if (!result) return;
    toast(result === "delete" ? t("Treatment deleted.") : treatment ? t("Treatment saved.") : t("Treatment added."), "ok");
    await this.refresh();
    await this.onChanged();
  }

  /** Confirm over the treatment dialog, which stays open: cancelling goes back to editing.
   * True when the treatment is gone; a refused delete is shown and the dialog stays. */
  async deleteTreatment(treatment) {
    const ok = await confirmAction(t("Delete this treatment?"), t("{name} will be removed. Its images stay with the tooth.", { name: treatment.treatment_type }));
    if (!ok) return false;
    try {
      await api("DELETE", `api/treatments/${treatment.id}`);
      return true;
    } catch (error) {
      toast(error.message, "error");
      return false;
    }
  }
}

function button(label, action, ariaLabel, kind = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (kind) b.className = kind;
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", (e) => {
    e.stopPropagation();
    action();
  });
  return b;
}

/** A lazy thumbnail; if the file is missing, a placeholder naming where it was expected. */
export function thumbnail(image) {
  const img = document.createElement("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = image.description || image.original_name || image.file_name;
  img.src = appUrl(image.thumbnail_url);
  img.addEventListener("error", () => img.replaceWith(missingPlaceholder(image)), { once: true });
  return img;
}

export function missingPlaceholder(image, big = false) {
  const box = document.createElement("div");
  box.className = big ? "missing big" : "missing";
  // One box per path part (the separator stays with the part before it), so a long path
  // wraps between folders and not inside a name; the copied text is still the path.
  const parts = image.path.split("/");
  const path = parts
    .map((part, i) => `<span>${escapeHtml(i < parts.length - 1 ? `${part}/` : part)}</span>`)
    .join("");
  box.innerHTML = `<strong>${escapeHtml(TEXT.missingFile)}</strong><span>${escapeHtml(TEXT.expectedAt)}</span><code>${path}</code>`;
  const repair = document.createElement("button");
  repair.type = "button";
  repair.className = "link repair";
  repair.textContent = TEXT.checkAndRepair;
  repair.title = TEXT.checkAndRepairHint;
  repair.addEventListener("click", (event) => {
    event.stopPropagation(); // not the card's "open in the viewer"
    document.dispatchEvent(new CustomEvent("dental:check-and-repair"));
  });
  box.append(repair);
  return box;
}
