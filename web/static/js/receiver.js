// Settings → DICOM receiver: this PC's receiver (off by default), whom it accepts, and whether
// it listens now.
import { t } from "./i18n.js";
import { api } from "./bridge.js";
import { $, confirmAction } from "./ui.js";

export class ReceiverSection {
  constructor() {
    this.form = $("#receiver-form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  async show() {
    try {
      this.render(await api("GET", "api/dicom-receiver"));
    } catch (error) {
      this.say(error.message, "warning");
    }
  }

  render(status) {
    const f = this.form.elements;
    f.enabled.checked = status.enabled;
    f.ae_title.value = status.ae_title;
    f.port.value = status.port;
    f.allowed_ae_titles.value = status.allowed_ae_titles.join(", ");
    f.allowed_addresses.value = status.allowed_addresses.join(", ");
    if (status.listening) {
      this.say(t("Listening on port {port} of this PC's network as AE title {ae}. X-ray units send to this PC's address.", { port: String(status.listening_port), ae: status.ae_title }), "ok-text");
    } else if (status.error) {
      this.say(`✖ ${status.error}`, "warning");
    } else if (status.other_pc) {
      this.say(t("Off on this PC. The clinic's receiver is on at {pc}.", { pc: status.other_pc }), "muted");
    } else {
      this.say(t("Off: this PC does not listen on the network."), "muted");
    }
  }

  say(text, kind) {
    const line = $("#receiver-status");
    line.textContent = text;
    line.className = kind;
  }

  async save(takeOver = false) {
    const f = this.form.elements;
    const body = {
      enabled: f.enabled.checked,
      ae_title: f.ae_title.value.trim(),
      port: f.port.value.trim(),
      allowed_ae_titles: f.allowed_ae_titles.value,
      allowed_addresses: f.allowed_addresses.value,
      take_over: takeOver,
    };
    try {
      this.render(await api("PUT", "api/dicom-receiver", body));
    } catch (error) {
      if (error.code === "receiver_elsewhere" && !takeOver) {
        if (await confirmAction(t("Take the receiver over?"), error.message, t("Listen on this PC"))) await this.save(true);
        return;
      }
      this.say(`✖ ${error.message}`, "warning");
    }
  }
}
