// The Inbox: x-rays the DICOM receiver took in, waiting to be assigned to a patient, a tooth
// (or the whole mouth) and a type; or discarded. Shared by every PC of the clinic (the rows
// are in the database, the files in the shared images folder).
import { formatNumber, t } from "./i18n.js";
import { ViewQuestion, api, appUrl, isSuperseded } from "./bridge.js";
import { $, IMAGE_TYPES, TYPE_LABELS, confirmAction, escapeHtml, formatDate, toast } from "./ui.js";

const GENERAL = "general";

/** "HADDAD^LAYLA^M" as people write it: "LAYLA M HADDAD" (as backend.dicom.patients). */
function readableName(dicomName) {
  const [family = "", given = "", middle = "", prefix = "", suffix = ""] = (dicomName || "").split("=")[0].split("^");
  return [prefix, given, middle, family, suffix].map((part) => part.trim()).filter(Boolean).join(" ");
}

export class InboxPage {
  /** `teeth()`: the teeth facts of the numbering in use ({teeth, places}); `onStored(image)`:
   * an x-ray became a patient's image. */
  constructor({ teeth, onStored }) {
    this.teeth = teeth;
    this.onStored = onStored;
    this.questions = { list: new ViewQuestion() };
    this.searches = new Map(); // one ViewQuestion per card's patient search
    $("#refresh-inbox").addEventListener("click", () => this.refresh());
  }

  /** The badge beside the Inbox button: how many x-rays wait (from the status poll). */
  setCount(count) {
    const badge = $("#inbox-badge");
    badge.hidden = !count;
    badge.textContent = formatNumber(count || 0);
    $("#open-inbox").setAttribute("aria-label", count ? t("Inbox: {count} received x-rays waiting", { count: formatNumber(count) }) : t("Inbox"));
  }

  async refresh() {
    const list = $("#inbox-list");
    const ask = this.questions.list.ask();
    let answer;
    try {
      answer = await ask.get("api/inbox");
    } catch (error) {
      if (isSuperseded(error) || !ask.current) return;
      list.innerHTML = `<p class="warning">${escapeHtml(error.message)}</p>`;
      return;
    }
    this.setCount(answer.count);
    if (!answer.items.length) {
      list.innerHTML = `<p class="muted empty">${escapeHtml(t("No received x-rays are waiting."))}</p>`;
      return;
    }
    list.replaceChildren(...answer.items.map((item) => this.card(item)));
  }

  toothOptions() {
    const facts = this.teeth() || { teeth: {}, places: {} };
    const general = facts.places?.[GENERAL]?.label || t("Whole mouth");
    const options = [`<option value="${GENERAL}">${escapeHtml(general)}</option>`];
    for (const [code, tooth] of Object.entries(facts.teeth || {})) {
      const label = t("Tooth {label}", { label: tooth.label });
      options.push(`<option value="${escapeHtml(code)}">${escapeHtml(label)} · ${escapeHtml(tooth.name)}</option>`);
    }
    return options.join("");
  }

  card(item) {
    const card = document.createElement("article");
    card.className = "inbox-card card";
    card.dataset.itemId = item.id;
    const name = readableName(item.patient_name) || t("no name in the file");
    const facts = [
      item.patient_ref ? t("ID {id}", { id: item.patient_ref }) : null,
      item.patient_birth_date ? t("born {date}", { date: formatDate(item.patient_birth_date) }) : null,
    ].filter(Boolean).join(" · ");
    const taken = [item.modality, item.study_date ? formatDate(item.study_date) : null].filter(Boolean).join(" · ");
    const sender = t("from {sender}, {when}", { sender: item.sender_ae || item.sender_address || "?", when: formatDate(item.received_at) });
    const suggestion = item.suggested_patient
      ? item.match === "patient_id"
        ? t("Suggested: {name} (no. {serial}), same patient ID", { name: item.suggested_patient.full_name, serial: item.suggested_patient.serial_number })
        : t("Suggested: {name} (no. {serial}), same name and age", { name: item.suggested_patient.full_name, serial: item.suggested_patient.serial_number })
      : t("No patient matches this x-ray: choose one.");
    const thumbAlt = t("X-ray received for {name}", { name });
    const searchHint = t("name, serial or phone");
    const types = IMAGE_TYPES.map((code) => `<option value="${code}"${code === "xray" ? " selected" : ""}>${escapeHtml(TYPE_LABELS[code])}</option>`).join("");
    card.innerHTML = `
      <img class="inbox-thumb" alt="${escapeHtml(thumbAlt)}" src="${escapeHtml(appUrl(item.thumbnail_url))}" loading="lazy">
      <div class="inbox-facts">
        <h3 dir="auto">${escapeHtml(name)}</h3>
        <p class="muted" dir="auto">${escapeHtml(facts)}</p>
        <p>${escapeHtml(taken)}</p>
        <p class="muted">${escapeHtml(sender)}</p>
        <p class="${item.suggested_patient ? "ok-text" : "warning"} suggestion">${escapeHtml(suggestion)}</p>
        ${item.already_stored_image_id ? `<p class="warning" role="alert">${escapeHtml(t("This x-ray is already stored as an image; discard it here."))}</p>` : ""}
      </div>
      <form class="inbox-assign">
        <label>${escapeHtml(t("Find a patient"))}<input type="search" name="q" autocomplete="off" dir="auto" placeholder="${escapeHtml(searchHint)}"></label>
        <label>${escapeHtml(t("Patient"))}<select name="patient_id" required></select></label>
        <label>${escapeHtml(t("Tooth"))}<select name="tooth">${this.toothOptions()}</select></label>
        <label>${escapeHtml(t("Type"))}<select name="image_type">${types}</select></label>
        <div class="row">
          <button type="submit" class="primary">${escapeHtml(t("Assign"))}</button>
          <button type="button" class="danger" data-act="discard">${escapeHtml(t("Discard"))}</button>
        </div>
      </form>`;
    const form = card.querySelector("form");
    const select = form.elements.patient_id;
    this.fillPatients(select, item.suggested_patient ? [item.suggested_patient] : []);
    let timer = null;
    form.elements.q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.searchPatients(item.id, form.elements.q.value.trim(), select), 150);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.assign(item, form);
    });
    card.querySelector('[data-act="discard"]').addEventListener("click", () => this.discard(item));
    return card;
  }

  fillPatients(select, found) {
    if (!found.length) {
      select.innerHTML = `<option value="">${escapeHtml(t("— search for the patient above —"))}</option>`;
      return;
    }
    select.innerHTML = found.map((p) => `<option value="${escapeHtml(p.id)}">${escapeHtml(p.full_name)} · #${escapeHtml(p.serial_number)}</option>`).join("");
  }

  async searchPatients(itemId, query, select) {
    if (!this.searches.has(itemId)) this.searches.set(itemId, new ViewQuestion());
    const ask = this.searches.get(itemId).ask();
    try {
      const answer = await ask.get(`api/patients?q=${encodeURIComponent(query)}&limit=30`);
      if (ask.current) this.fillPatients(select, answer.patients);
    } catch (error) {
      if (!isSuperseded(error) && ask.current) toast(error.message, "error");
    }
  }

  async assign(item, form, confirmed = false) {
    const body = {
      patient_id: form.elements.patient_id.value,
      tooth: form.elements.tooth.value,
      image_type: form.elements.image_type.value,
      confirm_patient: confirmed,
    };
    if (!body.patient_id) {
      toast(t("Choose the patient this x-ray belongs to."), "error");
      form.elements.q.focus();
      return;
    }
    try {
      const answer = await api("POST", `api/inbox/${item.id}/assign`, body);
      toast(t("The x-ray was stored for the patient."), "ok");
      await this.refresh();
      this.onStored(answer.image);
    } catch (error) {
      if (error.code === "patient_mismatch" && !confirmed) {
        if (await confirmAction(t("Another patient's x-ray?"), error.message, t("Store it for this patient"))) {
          await this.assign(item, form, true);
        }
        return;
      }
      toast(error.message, "error");
      if (error.code === "not_found") await this.refresh();
    }
  }

  async discard(item) {
    const name = readableName(item.patient_name) || t("no name in the file");
    const sure = await confirmAction(t("Discard this x-ray?"), t("The received x-ray of {name} is removed from the Inbox and not stored. The x-ray unit can send it again.", { name }), t("Discard"));
    if (!sure) return;
    try {
      await api("DELETE", `api/inbox/${item.id}`);
    } catch (error) {
      toast(error.message, "error");
    }
    await this.refresh();
  }
}
