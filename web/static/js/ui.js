// Small UI helpers shared by the views: toasts, confirmation, forms in dialogs.
import { formatDate as formatLocalDate, formatNumber, label, t } from "./i18n.js";
import { escapeHtml } from "./chart.js";

export { escapeHtml };

export const $ = (selector, root = document) => root.querySelector(selector);

/** The modal dialog on top, if any: the one holding the focus, else the last one open. */
function topModal() {
  const focused = document.activeElement?.closest?.("dialog[open]");
  if (focused) return focused;
  const open = document.querySelectorAll("dialog[open]");
  return open.length ? open[open.length - 1] : null;
}

const POPOVER = typeof HTMLElement.prototype.showPopover === "function";
const toastShown = (box) => (POPOVER ? box.matches(":popover-open") : !box.hidden);

let toastTimer = null;
/** A short message above everything. While a modal dialog is open the toast lives inside it, so
 * it is drawn above the dialog and, unlike the page outside an open modal, is not inert (screen
 * readers still hear it); it is also a popover (top layer) where the webview has them. When that
 * dialog closes, a toast still showing moves back to the page. */
/** A new HTML element: `props` are set as its properties (`className`, `type`…), `data` as its
 * data- attributes, `attrs` as attributes; `children` (nodes or text) are appended. */
export function element(tag, { data = {}, attrs = {}, ...props } = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, data);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  placeToast(box, topModal() || document.body);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => hideToast(box), kind === "error" ? 7000 : 3500);
}

function hideToast(box) {
  if (POPOVER && box.matches(":popover-open")) box.hidePopover();
  else if (!POPOVER) box.hidden = true;
}

function placeToast(box, host) {
  if (POPOVER && !box.popover) box.popover = "manual";
  if (POPOVER && box.matches(":popover-open")) box.hidePopover();
  if (box.parentElement !== host) host.append(box);
  box.hidden = false;
  if (POPOVER) box.showPopover(); // the last one shown is drawn on top
  if (host !== document.body) {
    host.addEventListener("close", () => {
      if (box.parentElement === host && toastShown(box)) placeToast(box, topModal() || document.body);
    }, { once: true });
  }
}

/** Ask before a destructive action. Resolves true when confirmed. */
export function confirmAction(title, text, okLabel = t("Delete")) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export function fillForm(form, values) {
  for (const element of form.elements) {
    if (!element.name) continue;
    const value = values[element.name];
    element.value = value === null || value === undefined ? (element.type === "color" ? "#3b82f6" : "") : value;
  }
}

export function readForm(form) {
  const values = {};
  for (const element of form.elements) if (element.name) values[element.name] = element.value.trim();
  return values;
}

/** Open a dialog holding a form; `save(values)` runs on Save and may throw an ApiError, which is
 * shown in the form (naming the field) while the dialog stays open. `onDelete()` runs on Delete
 * and resolves true when the thing is gone (the dialog then closes), false to keep editing.
 * Resolves with the returned value of save, "delete" after a delete, or null when the dialog
 * closed any other way (Cancel, Esc, closed from code). Whatever way it closes, its listeners
 * go with it: a later run of the same dialog never runs this one's save. */
export function runFormDialog(dialog, values, save, onDelete = null) {
  dialog.endFormRun?.(null); // a run still attached to this dialog ends before a new one starts
  const form = dialog.querySelector("form");
  const errorBox = form.querySelector(".form-error");
  fillForm(form, values);
  const clearErrors = () => {
    errorBox.textContent = "";
    form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  };
  clearErrors();
  if (!dialog.open) dialog.showModal();
  return new Promise((resolve) => {
    let busy = false;
    const submit = async (event) => {
      const action = event.submitter ? event.submitter.value : "save";
      if (action === "cancel" && !busy) return finish(null);
      event.preventDefault();
      if (busy) return; // a second click (or Cancel) while the save or delete is on its way
      busy = true;
      clearErrors(); // a message says what is wrong with this attempt, not an earlier one
      try {
        if (action === "delete") {
          if (onDelete && (await onDelete())) finish("delete");
          return;
        }
        if (!form.reportValidity()) return;
        finish(await save(readForm(form)));
      } catch (error) {
        errorBox.textContent = error.message;
        const field = error.field && form.elements[error.field];
        if (field) {
          field.classList.add("invalid");
          field.focus();
        }
      } finally {
        busy = false;
      }
    };
    // Enter in a field means Save: left to the browser it would press the form's first button
    // (Delete or Cancel).
    const enter = (event) => {
      const field = event.target;
      if (event.key !== "Enter" || event.isComposing || field.tagName !== "INPUT") return;
      if (["button", "submit", "reset", "color", "file"].includes(field.type)) return;
      event.preventDefault();
      form.requestSubmit(form.querySelector('button[value="save"]'));
    };
    const closed = () => {
      if (!dialog.open) finish(null); // open again: a late event of an earlier close, not ours
    };
    // Escape waits for a save on its way: its answer is what the caller must hear of.
    const escape = (event) => {
      if (busy) event.preventDefault();
    };
    // An edit answers the last message: it goes, instead of standing beside the browser's own
    // check of the next attempt (which stops the save before any submit event).
    const edited = () => clearErrors();
    function finish(result) {
      if (dialog.endFormRun !== finish) return; // already finished
      delete dialog.endFormRun;
      form.removeEventListener("submit", submit);
      form.removeEventListener("keydown", enter);
      form.removeEventListener("input", edited);
      dialog.removeEventListener("close", closed);
      dialog.removeEventListener("cancel", escape);
      if (dialog.open) dialog.close();
      resolve(result);
    }
    dialog.endFormRun = finish;
    form.addEventListener("submit", submit);
    form.addEventListener("keydown", enter);
    form.addEventListener("input", edited);
    dialog.addEventListener("close", closed);
    dialog.addEventListener("cancel", escape);
  });
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = [t("B"), t("KB"), t("MB"), t("GB"), t("TB")];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const decimals = unit === 0 ? 0 : 1;
  return `${formatNumber(value, { minimumFractionDigits: decimals, maximumFractionDigits: decimals })} ${units[unit]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  return formatLocalDate(date, { year: "numeric", month: "short", day: "numeric" });
}

/** An image's date and where it came from (its `taken_source`), as its details show it. */
export function takenText(image) {
  const date = formatDate(image.taken_date || image.created_at);
  switch (image.taken_source) {
    case "exif": return t("{date} · Date taken from the photo's EXIF", { date });
    case "set": return t("{date} · Date set by hand", { date });
    case "dicom": return t("{date} · Date from the x-ray file (DICOM study date)", { date });
    default: return t("{date} · Date of upload: the file had none", { date });
  }
}

export const IMAGE_TYPE_CODES = ["before", "after", "xray", "clinical", "other"];
/** Image type names in the current language (from the catalog's labels). */
export const TYPE_LABELS = Object.fromEntries(IMAGE_TYPE_CODES.map((code) => [code, label("image_types", code)]));
export const IMAGE_TYPES = Object.keys(TYPE_LABELS);
