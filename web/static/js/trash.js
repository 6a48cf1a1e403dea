// Settings → Trash: deleted patients and images, restorable until they are purged.
import { t, tn } from "./i18n.js";
import { ViewQuestion, api, appUrl, isSuperseded } from "./bridge.js";
import { $, TYPE_LABELS, confirmAction, escapeHtml, formatDate, toast } from "./ui.js";

export class TrashSection {
  /** `onRestored()` runs after something came back (the patient list must show it). */
  constructor({ onRestored }) {
    this.onRestored = onRestored;
    this.question = new ViewQuestion();
    $("#trash-days-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveDays();
    });
    $("#trash-empty").addEventListener("click", () => this.empty());
    $("#trash-entries").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-restore]");
      if (button) this.restore(button.dataset.restore, button.dataset.id, button);
    });
  }

  async show() {
    const body = $("#trash-entries");
    const ask = this.question.ask();
    try {
      const trash = await ask.get("api/trash");
      this.render(trash);
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      body.innerHTML = `<tr><td colspan="6" class="warning">${escapeHtml(error.message)}</td></tr>`;
    }
  }

  render(trash) {
    $("#trash-days").value = trash.days;
    $("#trash-note").textContent = tn(
      "Deleted patients and images stay here for {n} day, then they are removed for good.",
      "Deleted patients and images stay here for {n} days, then they are removed for good.",
      trash.days,
    );
    const rows = [
      ...trash.patients.map((p) => this.row({
        kind: "patient",
        id: p.id,
        what: p.full_name,
        detail: `${t("Serial #{serial}", { serial: p.serial_number })} · ${tn("patient, with {n} image", "patient, with {n} images", p.images)}`,
        initial: Array.from(p.full_name.trim())[0] || "?",
        tooth: "",
        type: "",
        deleted: p.deleted_at,
        purge: p.purge_after,
        label: t("Restore {name}", { name: p.full_name }),
      })),
      ...trash.images.map((i) => this.row({
        kind: "image",
        id: i.id,
        what: i.original_name || i.file_name,
        detail: i.patient_in_trash ? t("{name} (in the trash too)", { name: i.patient_name }) : i.patient_name,
        tooth: i.tooth === null ? t("Whole mouth") : i.tooth_label,
        type: TYPE_LABELS[i.image_type] || i.image_type,
        deleted: i.deleted_at,
        purge: i.purge_after,
        thumbnail: appUrl(`images/${i.id}/thumbnail?trash=1`),
        label: t("Restore {name}", { name: i.original_name || i.file_name }),
      })),
    ];
    const body = $("#trash-entries");
    if (!rows.length) {
      body.innerHTML = `<tr><td colspan="6" class="muted">${escapeHtml(t("The trash is empty."))}</td></tr>`;
    } else {
      body.innerHTML = rows.join("");
    }
    $("#trash-empty").disabled = !rows.length;
  }

  row(item) {
    const picture = item.thumbnail
      ? `<img class="trash-thumb" src="${escapeHtml(item.thumbnail)}" alt="" loading="lazy">`
      : `<span class="trash-thumb trash-person" aria-hidden="true">${escapeHtml(item.initial)}</span>`;
    return `<tr data-kind="${item.kind}" data-id="${escapeHtml(item.id)}">
      <td class="trash-what">${picture}<span><strong dir="auto">${escapeHtml(item.what)}</strong><br><span class="muted" dir="auto">${escapeHtml(item.detail)}</span></span></td>
      <td>${escapeHtml(item.tooth)}</td>
      <td>${escapeHtml(item.type)}</td>
      <td>${escapeHtml(formatDate(item.deleted))}</td>
      <td>${escapeHtml(formatDate(item.purge))}</td>
      <td><button type="button" data-restore="${item.kind}" data-id="${escapeHtml(item.id)}" aria-label="${escapeHtml(item.label)}">${escapeHtml(t("Restore"))}</button></td>
    </tr>`;
  }

  async restore(kind, id, button) {
    button.disabled = true;
    try {
      const result = await api("POST", `api/trash/${kind === "patient" ? "patients" : "images"}/${id}/restore`, {});
      if (kind === "patient") toast(tn("The patient is back, with {n} image.", "The patient is back, with {n} images.", result.images), "ok");
      else toast(result.patient_restored ? t("The image is back, and its patient with it.") : t("The image is back."), "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    await this.show();
    await this.onRestored();
    $("#trash-entries button") ? $("#trash-entries button").focus() : $("#trash-days").focus();
  }

  async saveDays() {
    try {
      await api("PATCH", "api/settings", { trash_days: $("#trash-days").value });
      toast(t("Saved."), "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    await this.show();
  }

  async empty() {
    const count = $("#trash-entries").querySelectorAll("button[data-restore]").length;
    const ok = await confirmAction(
      t("Empty the trash?"),
      tn(
        "{n} item in the trash is removed for good, with its files. This cannot be undone.",
        "{n} items in the trash are removed for good, with their files. This cannot be undone.",
        count,
      ),
      t("Empty trash now"),
    );
    if (!ok) return;
    try {
      const result = await api("POST", "api/trash/empty", { confirm: true });
      toast(tn("{n} image removed for good.", "{n} images removed for good.", result.purged.images), "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    await this.show();
  }
}

/** How many days a deleted item stays in the trash, as the clinic's setting says now (for the
 * delete confirmations); the default when it cannot be asked. */
export async function currentTrashDays() {
  try {
    const settings = await api("GET", "api/settings");
    return Number(settings.trash_days) || 30;
  } catch {
    return 30;
  }
}
