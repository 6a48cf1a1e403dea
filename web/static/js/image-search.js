// Find images: every patient's images by description, type, tooth (or the whole mouth) and the
// day taken, newest first, each with its patient. A result opens in the viewer (the results are
// its list, so ◀ ▶ page through them); "Open" goes to the patient's tooth.
import { formatNumber, t, tn } from "./i18n.js";
import { ViewQuestion, appUrl, isSuperseded } from "./bridge.js";
import { $, IMAGE_TYPES, TYPE_LABELS, escapeHtml, formatDate } from "./ui.js";

const GENERAL = "general";
const PAGE = 50;
const TYPING_DELAY_MS = 250;

export class ImageSearch {
  /** `teeth()`: the teeth facts of the numbering in use ({teeth, places}); `openViewer(list,
   * index)`; `openPlace(patientId, tooth)`: show that patient's tooth (or whole mouth). */
  constructor({ teeth, openViewer, openPlace }) {
    this.teeth = teeth;
    this.openViewer = openViewer;
    this.openPlace = openPlace;
    this.question = new ViewQuestion();
    this.found = [];
    this.total = 0;
    const form = $("#image-search-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    let timer = null;
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.search(), TYPING_DELAY_MS);
    });
    form.addEventListener("change", () => {
      clearTimeout(timer);
      this.search();
    });
    $("#image-search-more").addEventListener("click", () => this.search({ more: true }));
    $("#image-search-results").addEventListener("click", (event) => {
      const open = event.target.closest("button[data-open]");
      if (open) {
        const image = this.found[Number(open.dataset.open)];
        this.openPlace(image.patient_id, image.tooth || GENERAL);
        return;
      }
      const show = event.target.closest("button[data-show]");
      if (show) this.openViewer(this.found, Number(show.dataset.show));
    });
  }

  /** Show the view: the tooth list in the numbering in use, the focus in the text field. */
  show() {
    this.fillTypes();
    this.fillTeeth();
    $("#image-search-q").focus();
    if (!this.asked) this.search();
  }

  fillTypes() {
    const select = $("#image-search-type");
    const chosen = select.value;
    select.replaceChildren(new Option(t("Any type"), ""), ...IMAGE_TYPES.map((code) => new Option(TYPE_LABELS[code], code)));
    select.value = chosen;
  }

  fillTeeth() {
    const select = $("#image-search-tooth");
    const chosen = select.value;
    const facts = this.teeth() || { teeth: {}, places: {} };
    const options = [new Option(t("Any tooth or the whole mouth"), ""), new Option(facts.places?.[GENERAL]?.label || t("Whole mouth"), GENERAL)];
    for (const [code, tooth] of Object.entries(facts.teeth || {})) {
      options.push(new Option(`${t("Tooth {label}", { label: tooth.label })} · ${tooth.name}`, code));
    }
    select.replaceChildren(...options);
    select.value = chosen;
  }

  placeOf(image) {
    const facts = this.teeth() || { teeth: {}, places: {} };
    if (!image.tooth || image.tooth === GENERAL) return facts.places?.[GENERAL]?.label || t("Whole mouth");
    return t("Tooth {label}", { label: facts.teeth?.[image.tooth]?.label || image.tooth });
  }

  async search({ more = false } = {}) {
    this.asked = true;
    const form = $("#image-search-form");
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (String(value).trim()) params.set(name, String(value).trim());
    params.set("limit", String(PAGE));
    params.set("offset", String(more ? this.found.length : 0));
    const ask = this.question.ask();
    const status = $("#image-search-status");
    let answer;
    try {
      answer = await ask.get(`api/search/images?${params}`);
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      status.className = "warning";
      status.textContent = error.message;
      return;
    }
    if (!ask.current) return;
    this.found = more ? [...this.found, ...answer.images] : answer.images;
    this.total = answer.total;
    status.className = "muted";
    status.textContent = this.total
      ? tn("{n} image found", "{n} images found", this.total, { n: formatNumber(this.total) })
      : t("No image matches. Try fewer words, another type or tooth, or a wider range of days.");
    this.render(more ? answer.images.length : null);
  }

  /** Draw the results; `added` (loading more) keeps the ones shown and focuses the first new. */
  render(added) {
    const box = $("#image-search-results");
    const first = added === null ? 0 : this.found.length - added;
    const cards = this.found.slice(first).map((image, offset) => this.card(image, first + offset));
    if (added === null) box.replaceChildren(...cards);
    else box.append(...cards);
    $("#image-search-more").hidden = this.found.length >= this.total;
    if (added) box.querySelector(`[data-show="${first}"]`)?.focus();
  }

  card(image, index) {
    const card = document.createElement("figure");
    card.className = "image-card";
    card.dataset.imageId = image.id;
    const when = formatDate(image.taken_date || image.created_at);
    const title = image.description || image.original_name || image.file_name;
    const patient = t("{name} (no. {serial})", { name: image.patient.full_name, serial: image.patient.serial_number });
    const place = this.placeOf(image);
    const showLabel = t("Show {title} of {patient}", { title, patient });
    const openLabel = t("Open {place} of {patient}", { place, patient });
    const typeLabel = TYPE_LABELS[image.image_type] || image.image_type;
    const openText = t("Open");
    card.innerHTML = `
      <button type="button" class="thumb" data-show="${index}" aria-label="${escapeHtml(showLabel)}">
        <img src="${escapeHtml(appUrl(image.thumbnail_url))}" alt="" loading="lazy" decoding="async">
      </button>
      <figcaption>
        <span class="chip type-${escapeHtml(image.image_type)}">${escapeHtml(typeLabel)}</span>
        <span class="date">${escapeHtml(when)}</span>
        <span class="desc" dir="auto">${escapeHtml(title)}</span>
        <span class="hit-patient">${escapeHtml(patient)} · ${escapeHtml(place)}</span>
        <span class="card-actions"><button type="button" data-open="${index}" aria-label="${escapeHtml(openLabel)}">${escapeHtml(openText)}</button></span>
      </figcaption>`;
    return card;
  }
}
