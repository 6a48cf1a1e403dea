// The connection to the program's server as the person sees it. When the server does not
// answer: one "Connection lost, retrying…" screen over the page, which blocks every change,
// retries with growing pauses and, once the server answers, hands over to `onBack` (the views
// ask again). When the server answers another start of the program (this page's key no longer
// opens it), the window reopens the program's current page by itself; a browser tab says so.
import { t } from "./i18n.js";
import { api, connection, onConnectionChange, reopenOwnPage } from "./bridge.js";
import { $ } from "./ui.js";

const RETRY_MS = [500, 1000, 2000, 4000, 8000]; // then every 8 s
const LONG_LOST_AFTER = 4; // tries: from then on, say what to do if the program was closed

const TEXT = {
  lostTitle: t("Connection lost, retrying…"),
  lostText: t("The program's server does not answer. Changes are paused until it is back; what was saved before is kept."),
  nextTry: (seconds) => t("Next try in {seconds} s.", { seconds }),
  trying: t("Trying now…"),
  longLost: t("If the program was closed, open it again."),
  tryNow: t("Try now"),
  expiredTitle: t("This window belongs to an earlier start of the program"),
  expiredText: t("Open the program again: its new window shows the clinic's data as it is now."),
  reopening: t("Opening the program's current page…"),
};

export class ConnectionGuard {
  /** `onBack()` runs each time the server answers again after a loss. */
  constructor({ onBack }) {
    this.dialog = $("#connection-dialog");
    this.onBack = onBack;
    this.tries = 0;
    this.timer = null;
    this.countdown = null;
    $("#connection-retry-now").textContent = TEXT.tryNow;
    $("#connection-retry-now").addEventListener("click", () => this.tryNow());
    // The person cannot close it: the page behind must not take changes while it is up.
    this.dialog.addEventListener("cancel", (event) => event.preventDefault());
    this.dialog.addEventListener("close", () => {
      if (connection() !== "online") this.dialog.showModal();
    });
    onConnectionChange((state) => this.changed(state));
  }

  changed(state) {
    if (state === "offline") this.showLost();
    else if (state === "expired") this.showExpired();
    else this.back();
  }

  show(kind, title, text) {
    this.dialog.dataset.state = kind;
    $("#connection-title").textContent = title;
    $("#connection-text").textContent = text;
    document.body.dataset.connection = kind;
    if (!this.dialog.open) this.dialog.showModal();
  }

  showLost() {
    this.tries = 0;
    this.show("offline", TEXT.lostTitle, TEXT.lostText);
    $("#connection-retry-now").hidden = false;
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    const wait = RETRY_MS[Math.min(this.tries, RETRY_MS.length - 1)];
    const due = Date.now() + wait;
    const tell = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      const hint = this.tries >= LONG_LOST_AFTER ? ` ${TEXT.longLost}` : "";
      $("#connection-retry").textContent = TEXT.nextTry(seconds) + hint;
    };
    tell();
    this.countdown = setInterval(tell, 1000);
    this.timer = setTimeout(() => this.tryNow(), wait);
  }

  async tryNow() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    $("#connection-retry").textContent = TEXT.trying;
    this.tries += 1;
    try {
      await api("GET", "api/health"); // an answer turns the connection "online": see back()
    } catch {
      if (connection() === "offline") this.schedule();
    }
  }

  back() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    delete document.body.dataset.connection;
    if (this.dialog.open) this.dialog.close();
    this.onBack();
  }

  async showExpired() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    $("#connection-retry-now").hidden = true;
    $("#connection-retry").textContent = "";
    if (await reopenOwnPage()) {
      this.show("reopening", TEXT.reopening, "");
      return;
    }
    this.show("expired", TEXT.expiredTitle, TEXT.expiredText);
  }
}
