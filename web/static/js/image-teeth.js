// The other teeth an image shows (a bitewing several, a panoramic all): the "also on …" mark of
// its card, and the editor that sets them. The image keeps its one place (its tooth, or the
// whole mouth); each other tooth lists and counts it too.
import { t } from "./i18n.js";
import { api } from "./bridge.js";
import { $, element } from "./ui.js";

const GENERAL = "general";
const PERMANENT = Array.from({ length: 32 }, (_, i) => String(i + 1));
const PRIMARY = [..."ABCDEFGHIJKLMNOPQRST"];
// As the chart shows them: left to right as the dentist facing the patient sees the mouth.
const ROWS = [
  ["upper", () => t("Upper teeth"), PERMANENT.slice(0, 16)],
  ["lower", () => t("Lower teeth"), PERMANENT.slice(16).reverse()],
  ["upper_primary", () => t("Upper primary teeth"), PRIMARY.slice(0, 10)],
  ["lower_primary", () => t("Lower primary teeth"), PRIMARY.slice(10).reverse()],
];

/** Where a Universal code stands: its arch and place in it (numbers run on along each arch). */
function position(code) {
  const n = Number(code);
  if (n) return { arch: n <= 16 ? 0 : 1, index: n };
  const i = PRIMARY.indexOf(code);
  return { arch: i < 10 ? 2 : 3, index: i };
}

/** Tooth labels in the chosen numbering, neighbours along an arch run together: three or more
 * as "first–last" ("2–5", FDI "17–14"). */
export function teethText(codes, facts) {
  const sorted = [...codes].sort((a, b) => {
    const [pa, pb] = [position(a), position(b)];
    return pa.arch - pb.arch || pa.index - pb.index;
  });
  const runs = [];
  for (const code of sorted) {
    const run = runs[runs.length - 1];
    const last = run && position(run[run.length - 1]);
    const here = position(code);
    if (last && last.arch === here.arch && last.index + 1 === here.index) run.push(code);
    else runs.push([code]);
  }
  const label = (code) => facts[code]?.label || code;
  const parts = runs.flatMap((run) => (run.length >= 3 ? [`${label(run[0])}–${label(run[run.length - 1])}`] : run.map(label)));
  // one isolated run of labels: "17–14" keeps its order inside an Arabic sentence
  return `\u2068${parts.join(", ")}\u2069`;
}

/** "also on 2–5" for `image` shown on `shownOn` (a tooth code or GENERAL): its other places,
 * its own one included when it is shown on a linked tooth; "" when it is on one place only. */
export function alsoOnText(image, shownOn, facts) {
  const own = image.tooth || GENERAL;
  const teeth = (image.linked_teeth || []).filter((code) => code !== shownOn);
  if (own !== shownOn && own !== GENERAL) teeth.push(own);
  const parts = [];
  if (own !== shownOn && own === GENERAL) parts.push(t("the whole mouth"));
  if (teeth.length) parts.push(teethText(teeth, facts));
  return parts.length ? t("also on {places}", { places: parts.join(", ") }) : "";
}

let dialog = null;

function buildDialog() {
  const rows = ROWS.map(([key, name, codes]) =>
    element("fieldset", { className: "image-teeth-row", data: { row: key } }, [
      element("legend", { textContent: name() }),
      element(
        "div",
        { className: "image-teeth-boxes" },
        codes.map((code) =>
          element("label", { className: "image-tooth" }, [
            element("input", { type: "checkbox", name: "tooth", value: code }),
            element("span"),
          ]),
        ),
      ),
    ]),
  );
  const clear = element("button", { type: "button", className: "link image-teeth-clear", textContent: t("Clear all") });
  const form = element("form", { method: "dialog" }, [
    element("h2", { id: "image-teeth-title", textContent: t("Also shows teeth…") }),
    element("p", { className: "muted", id: "image-teeth-intro" }),
    element("div", { className: "image-teeth-rows" }, rows),
    element("p", { className: "form-error", attrs: { role: "alert" } }),
    element("div", { className: "row end" }, [
      clear,
      element("button", { type: "submit", value: "cancel", formNoValidate: true, textContent: t("Cancel") }),
      element("button", { type: "submit", value: "save", className: "primary", textContent: t("Save") }),
    ]),
  ]);
  clear.addEventListener("click", () => form.querySelectorAll("input[name=tooth]:not(:disabled)").forEach((i) => (i.checked = false)));
  form.addEventListener("keydown", (e) => moveAmongTeeth(e, form));
  const box = element("dialog", { id: "image-teeth-dialog", className: "form-dialog", attrs: { "aria-labelledby": "image-teeth-title" } }, [form]);
  document.body.append(box);
  return box;
}

/** Arrow keys move among the teeth as they lie on screen: the rows are laid out as the chart,
 * never mirrored, so ArrowRight is the tooth drawn on the right in every language. */
function moveAmongTeeth(event, form) {
  const input = event.target;
  if (input.name !== "tooth" || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
  const boxes = input.closest(".image-teeth-boxes");
  const inputs = [...boxes.querySelectorAll("input")];
  const rows = [...form.querySelectorAll(".image-teeth-boxes")];
  const rtl = getComputedStyle(boxes).direction === "rtl";
  const at = inputs.indexOf(input);
  let next = null;
  if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    const step = (event.key === "ArrowRight") !== rtl ? 1 : -1;
    next = inputs[at + step];
  } else {
    const row = rows[rows.indexOf(input.closest(".image-teeth-boxes")) + (event.key === "ArrowDown" ? 1 : -1)];
    const others = row ? [...row.querySelectorAll("input")] : [];
    next = others[Math.min(at, others.length - 1)];
  }
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

/** Open the editor for `image` (`facts`: the teeth's labels and names in the chosen numbering;
 * `place`: where the image is, as a sentence says it). Resolves with the image as saved, or
 * null when cancelled. */
export function editImageTeeth(image, facts, place) {
  dialog ??= buildDialog();
  dialog.endRun?.(null);
  const form = dialog.querySelector("form");
  const error = form.querySelector(".form-error");
  error.textContent = "";
  const linked = new Set(image.linked_teeth || []);
  $("#image-teeth-intro", dialog).textContent = t("{name} stays with {place}. Tick the other teeth it shows: it is listed and counted on them too, and still counted once for the patient.", { name: `\u2068${image.original_name || image.file_name}\u2069`, place });
  for (const input of form.querySelectorAll("input[name=tooth]")) {
    const own = input.value === image.tooth;
    input.checked = own || linked.has(input.value);
    input.disabled = own;
    const fact = facts[input.value] || {};
    const label = input.closest("label");
    label.querySelector("span").textContent = fact.label || input.value;
    label.title = own ? t("{name} (the image's own tooth)", { name: fact.name || "" }) : fact.name || "";
    label.classList.toggle("own", own);
  }
  if (!dialog.open) dialog.showModal();
  const first = form.querySelector("input[name=tooth]:checked:not(:disabled)") || form.querySelector("input[name=tooth]:not(:disabled)");
  first?.focus();
  return new Promise((resolve) => {
    let busy = false;
    // A save on its way is seen to its end (Escape and Cancel wait for it): its answer then
    // refreshes the panel, and never closes an editor opened after it.
    function finish(value) {
      if (dialog.endRun !== finish) return;
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      dialog.removeEventListener("cancel", escape);
      dialog.endRun = null;
      if (dialog.open) dialog.close();
      resolve(value);
    }
    const closed = () => finish(null);
    const escape = (event) => {
      if (busy) event.preventDefault();
    };
    const submit = async (event) => {
      if (event.submitter?.value === "cancel" && !busy) return finish(null);
      event.preventDefault();
      if (busy) return;
      busy = true;
      error.textContent = "";
      const teeth = [...form.querySelectorAll("input[name=tooth]:checked:not(:disabled)")].map((i) => i.value);
      try {
        finish(await api("PUT", `api/images/${image.id}/teeth`, { teeth }));
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        busy = false;
      }
    };
    dialog.endRun = finish;
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    dialog.addEventListener("cancel", escape);
  });
}
