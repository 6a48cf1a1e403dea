// How the earlier app's teeth are read, shown and chosen per table generation: its numbering
// (Universal or FDI) with the evidence, and for the early chart the layout of the lower arch.
// One form for the import preview (Settings) and for the restore preview of its backups.
import { t, tn } from "./i18n.js";
import { escapeHtml } from "./ui.js";

const TEXT = {
  notations: [["universal", t("Universal (1–32)")], ["fdi", t("FDI (11–48, 51–85)")]],
  layouts: [["mirrored", t("mirrored (17 = lower right third molar)")], ["standard", t("standard Universal (17 = lower left third molar)")]],
  detected: (n) => (n.detected ? (n.detected === "fdi" ? "FDI" : t("Universal")) : t("not decided")) + (n.certain ? "" : " " + t("(unsure: check and choose)")),
  generation: (name, rows) => tn("{name} ({n} row)", "{name} ({n} rows)", rows, { name }),
  readAs: t("Read as"),
  layout: (affected) => tn("Early chart's lower arch ({n} row)", "Early chart's lower arch ({n} rows)", affected),
  none: t("No tooth numbers to read."),
};

function select(name, options, value) {
  const items = options.map(([key, label]) => `<option value="${key}"${key === value ? " selected" : ""}>${escapeHtml(label)}</option>`);
  return `<select data-choice="${name}">${items.join("")}</select>`;
}

/** Draw the choices of `generations` (the preview's per-generation entries) into `box`, each
 * set to what the preview used, else what was detected. */
export function renderReadingChoice(box, generations) {
  const entries = Object.entries(generations || {});
  if (!entries.length) {
    box.innerHTML = `<p class="muted">${escapeHtml(TEXT.none)}</p>`;
    return;
  }
  box.innerHTML = entries.map(([name, entry]) => {
    const n = entry.notation;
    const chosen = entry.used || n.detected || "universal";
    let html = `<fieldset class="reading-choice" data-generation="${escapeHtml(name)}">
      <legend>${escapeHtml(TEXT.generation(name, entry.rows))}: ${escapeHtml(TEXT.detected(n))}</legend>
      <ul class="muted">${n.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join("")}</ul>
      <label class="inline">${escapeHtml(TEXT.readAs)} ${select(`notation:${name}`, TEXT.notations, chosen)}</label>`;
    if (entry.layout) {
      const layout = entry.layout;
      html += `<label class="inline">${escapeHtml(TEXT.layout(layout.affected))} ${select("early_layout", TEXT.layouts, layout.used || layout.detected)}</label>
        <ul class="muted">${layout.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join("")}</ul>`;
    }
    return `${html}</fieldset>`;
  }).join("");
}

/** What `box` says now, as the API takes it: {table_notation: {generation: notation},
 * early_layout} (early_layout only where the early chart is shown). */
export function readingChoice(box) {
  const chosen = { table_notation: {} };
  for (const field of box.querySelectorAll("select[data-choice]")) {
    const [kind, generation] = field.dataset.choice.split(":");
    if (kind === "notation") chosen.table_notation[generation] = field.value;
    else chosen.early_layout = field.value;
  }
  return chosen;
}
