// Settings → Backup → Encryption: set, change, remember on this PC or remove the backup
// passphrase (typed twice, the loss understood), and the question for it when a backup, a
// verify or a restore needs it. The passphrase goes to the program only; the page keeps it no
// longer than the one operation that asked for it.
import { api } from "./bridge.js";
import { t } from "./i18n.js";
import { $, confirmAction, runFormDialog, toast } from "./ui.js";

const PASSPHRASE_CODES = ["passphrase_needed", "wrong_passphrase"];

/** Whether an error (an ApiError, or a failed job's error) asks for the passphrase. */
export function needsPassphrase(error) {
  return Boolean(error && PASSPHRASE_CODES.includes(error.code));
}

/** Ask for the passphrase; resolves with it (exactly as typed), or null when cancelled.
 * `problem` is shown in the dialog (the previous attempt's "The passphrase is wrong"). */
export function askPassphrase(text, problem = "") {
  const dialog = $("#passphrase-ask-dialog");
  const form = dialog.querySelector("form");
  $("#passphrase-ask-text").textContent = text;
  const answer = runFormDialog(dialog, {}, async () => form.elements.passphrase.value);
  if (problem) {
    form.querySelector(".form-error").textContent = problem;
    form.elements.passphrase.classList.add("invalid");
  }
  form.elements.passphrase.focus();
  return answer;
}

/** Ask again until the work no longer asks for the passphrase. `attempt(passphrase)` resolves
 * with {error} (an error that may ask for it) or anything else (done); null passphrase first.
 * Resolves with {result, passphrase}, or null when the person cancelled the question. */
export async function withPassphrase(text, attempt) {
  let passphrase = null;
  for (;;) {
    const result = await attempt(passphrase);
    if (!needsPassphrase(result.error)) return { result, passphrase };
    const problem = result.error.code === "wrong_passphrase" || passphrase ? result.error.message : "";
    passphrase = await askPassphrase(text, problem);
    if (passphrase === null) return null;
  }
}

export class PassphraseControls {
  /** `reload()` asks the backup status again after a change. */
  constructor(reload) {
    this.reload = reload;
    this.encryption = null;
    $("#passphrase-set").addEventListener("click", () => this.set());
    $("#passphrase-remember").addEventListener("click", () => this.remember());
    $("#passphrase-remove").addEventListener("click", () => this.remove());
  }

  render(encryption) {
    this.encryption = encryption;
    const e = encryption || { encrypted: false, kept_here: false, store_usable: false };
    let text;
    if (!e.encrypted) text = t("Backups are not encrypted. Set a passphrase before backups go to a disk that leaves the clinic or to a synced cloud folder.");
    else if (e.kept_here) text = t("Backups are encrypted (AES-256). This PC keeps the passphrase in its credential store, so scheduled backups run by themselves.");
    else if (e.store_usable) text = t("Backups are encrypted (AES-256). This PC does not keep the passphrase yet: scheduled backups here need it (Remember on this PC); a backup by hand asks for it.");
    else text = t("Backups are encrypted (AES-256). This PC has no credential store, so scheduled backups cannot run here; a backup by hand asks for the passphrase.");
    $("#passphrase-state").textContent = text;
    $("#passphrase-set").textContent = e.encrypted ? t("Change the passphrase…") : t("Set a backup passphrase…");
    $("#passphrase-remember").hidden = !(e.encrypted && !e.kept_here && e.store_usable);
    $("#passphrase-remove").hidden = !e.encrypted;
  }

  say(text, ok = true) {
    const out = $("#passphrase-result");
    out.textContent = "";
    const line = document.createElement("p");
    line.className = ok ? "ok-text" : "warning";
    line.textContent = `${ok ? "✔" : "✖"} ${text}`;
    out.append(line);
  }

  async set() {
    const dialog = $("#passphrase-dialog");
    const form = dialog.querySelector("form");
    const encrypted = Boolean(this.encryption && this.encryption.encrypted);
    $("#passphrase-current-row").hidden = !encrypted;
    form.elements.current.required = encrypted;
    form.elements.understood.checked = false;
    const saved = await runFormDialog(dialog, {}, async () => {
      const body = {
        passphrase: form.elements.passphrase.value,
        confirm: form.elements.confirm.value,
        understood: form.elements.understood.checked,
      };
      if (encrypted) body.current = form.elements.current.value;
      return api("PUT", "api/backup/passphrase", body);
    });
    for (const name of ["current", "passphrase", "confirm"]) form.elements[name].value = "";
    if (!saved) return;
    this.render(saved.encryption);
    this.say(saved.encryption.kept_here ? t("Passphrase set: every backup from now on is encrypted. Print the recovery sheet and write the passphrase on it.") : t("Passphrase set: every backup from now on is encrypted. This PC cannot keep it, so scheduled backups cannot run here. Print the recovery sheet and write the passphrase on it."));
    toast(t("Backups are encrypted from now on."), "ok");
    await this.reload();
  }

  // Asks for the passphrase (again after a wrong one) and sends it as `field`; null when the
  // dialog was closed or the request failed otherwise, which is said in the section.
  async sendPassphrase(prompt, method, path, field) {
    return withPassphrase(prompt, async (passphrase) => {
      if (passphrase === null) return { error: { code: "passphrase_needed" } };
      try {
        return await api(method, path, { [field]: passphrase });
      } catch (error) {
        if (needsPassphrase(error)) return { error };
        throw error;
      }
    }).catch((error) => {
      this.say(error.message, false);
      return null;
    });
  }

  async remember() {
    const kept = await this.sendPassphrase(t("Type the backup passphrase for this PC to keep in its credential store."), "POST", "api/backup/passphrase/remember", "passphrase");
    if (!kept) return;
    this.render(kept.result.encryption);
    this.say(t("This PC keeps the passphrase now: scheduled backups run here by themselves."));
    await this.reload();
  }

  async remove() {
    const ok = await confirmAction(t("Stop encrypting backups?"), t("Backups made from now on are plain zips that anyone with the file can open. Backups made before stay encrypted with the passphrase."), t("Stop encrypting"));
    if (!ok) return;
    const removed = await this.sendPassphrase(t("Type the current backup passphrase to stop encrypting."), "DELETE", "api/backup/passphrase", "current");
    if (!removed) return;
    this.render(removed.result.encryption);
    this.say(t("Backups are no longer encrypted."));
    await this.reload();
  }
}
