// Small UI helpers shared by the views: toasts, confirmation, forms in dialogs.
import { escapeHtml } from "./chart.js";

export { escapeHtml };

export const $ = (selector, root = document) => root.querySelector(selector);

let toastTimer = null;
export function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), kind === "error" ? 7000 : 3500);
}

/** Ask before a destructive action. Resolves true when confirmed. */
export function confirmAction(title, text, okLabel = "Delete") {
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
 * shown in the form (naming the field) while the dialog stays open. Resolves with the returned
 * value of save, "delete" when the Delete button was used, or null on cancel. */
export function runFormDialog(dialog, values, save, onDelete = null) {
  const form = dialog.querySelector("form");
  const errorBox = form.querySelector(".form-error");
  fillForm(form, values);
  errorBox.textContent = "";
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  dialog.showModal();
  return new Promise((resolve) => {
    const submit = async (event) => {
      const action = event.submitter ? event.submitter.value : "save";
      if (action === "cancel") return finish(null);
      event.preventDefault();
      if (action === "delete" && onDelete) {
        if (await onDelete()) finish("delete");
        return;
      }
      if (!form.reportValidity()) return;
      try {
        finish(await save(readForm(form)));
      } catch (error) {
        errorBox.textContent = error.message;
        const field = error.field && form.elements[error.field];
        if (field) {
          field.classList.add("invalid");
          field.focus();
        }
      }
    };
    const cancel = () => finish(null);
    function finish(result) {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      resolve(result);
    }
    form.addEventListener("submit", submit);
    dialog.addEventListener("cancel", cancel);
  });
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export const TYPE_LABELS = { before: "Before", after: "After", xray: "X-ray", clinical: "Clinical", other: "Other" };
export const IMAGE_TYPES = Object.keys(TYPE_LABELS);
