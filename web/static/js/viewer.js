// The full-size viewer (zoom, pan, rotate, flip, brightness/contrast — view only, the file is
// never changed) and the before/after comparison.
import { appUrl, openInViewer } from "./bridge.js";
import { missingPlaceholder } from "./tooth-panel.js";
import { $, TYPE_LABELS, formatDate, takenText, toast } from "./ui.js";
import { FrameBar } from "./viewer-frames.js";

const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 16;

export class Viewer {
  constructor() {
    this.dialog = $("#viewer-dialog");
    this.image = $("#viewer-image");
    this.stage = $("#viewer-stage");
    this.frames = new FrameBar(this.image, this.stage);
    this.list = [];
    this.index = 0;
    this.bind();
  }

  bind() {
    this.dialog.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => this.act(b.dataset.act)));
    $("#viewer-brightness").addEventListener("input", () => this.apply());
    $("#viewer-contrast").addEventListener("input", () => this.apply());
    this.dialog.addEventListener("keydown", (e) => this.key(e));
    this.stage.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (this.frames.wheel(e)) return;
      this.zoomAt(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, e.clientX, e.clientY);
    }, { passive: false });
    this.stage.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      this.drag = { x: e.clientX - this.view.x, y: e.clientY - this.view.y };
      this.stage.setPointerCapture(e.pointerId);
      this.stage.classList.add("panning");
    });
    this.stage.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      this.view.x = e.clientX - this.drag.x;
      this.view.y = e.clientY - this.drag.y;
      this.apply();
    });
    const end = () => {
      this.drag = null;
      this.stage.classList.remove("panning");
    };
    this.stage.addEventListener("pointerup", end);
    this.stage.addEventListener("pointercancel", end);
    this.image.addEventListener("load", () => {
      this.image.hidden = false;
      $("#viewer-missing").hidden = true;
      // another frame of the same image keeps the zoom, pan and turn chosen for it
      if (this.fitPending) this.fit();
      this.fitPending = false;
    });
    this.image.addEventListener("error", () => this.showMissing());
  }

  open(list, index) {
    this.list = list;
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
    // the stage (tabindex=-1) takes the focus, not the first button: keys act on the image and
    // Space/Enter do not press ◀
    this.stage.focus();
  }

  show(index) {
    this.index = (index + this.list.length) % this.list.length;
    const image = this.list[this.index];
    this.resetView();
    $("#viewer-missing").hidden = true;
    this.image.hidden = false;
    this.image.alt = image.description || image.original_name || image.file_name;
    this.fitPending = true;
    this.image.src = appUrl(this.frames.start(image));
    const when = formatDate(image.taken_date || image.created_at);
    $("#viewer-title").textContent = `${TYPE_LABELS[image.image_type]} · ${when} · ${image.description || image.original_name || image.file_name}  (${this.index + 1}/${this.list.length})`;
    $("#viewer-date-source").textContent = takenText(image);
    $("#viewer-file-facts").textContent = `${image.original_name || image.file_name} · ${image.width}×${image.height} ${image.format}`;
    const isXray = image.image_type === "xray";
    this.dialog.classList.toggle("xray", isXray);
  }

  showMissing() {
    this.image.hidden = true;
    const box = $("#viewer-missing");
    box.replaceChildren(...missingPlaceholder(this.list[this.index], true).childNodes);
    box.hidden = false;
  }

  resetView() {
    this.view = { zoom: 1, x: 0, y: 0, rotate: 0, flipH: false, flipV: false, invert: false };
    $("#viewer-brightness").value = 100;
    $("#viewer-contrast").value = 100;
  }

  fit() {
    const box = this.stage.getBoundingClientRect();
    const turned = this.view.rotate % 180 !== 0;
    const w = turned ? this.image.naturalHeight : this.image.naturalWidth;
    const h = turned ? this.image.naturalWidth : this.image.naturalHeight;
    this.view.zoom = Math.min(1, (box.width - 24) / w, (box.height - 24) / h) || 1;
    this.view.x = 0;
    this.view.y = 0;
    this.apply();
  }

  zoomAt(factor, clientX = null, clientY = null) {
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.zoom * factor));
    if (clientX !== null) {
      const box = this.stage.getBoundingClientRect();
      const cx = clientX - (box.left + box.width / 2);
      const cy = clientY - (box.top + box.height / 2);
      const ratio = next / this.view.zoom;
      this.view.x = cx - (cx - this.view.x) * ratio;
      this.view.y = cy - (cy - this.view.y) * ratio;
    }
    this.view.zoom = next;
    this.apply();
  }

  apply() {
    const v = this.view;
    this.image.style.transform = `translate(-50%, -50%) translate(${v.x}px, ${v.y}px) rotate(${v.rotate}deg) scale(${v.zoom * (v.flipH ? -1 : 1)}, ${v.zoom * (v.flipV ? -1 : 1)})`;
    const brightness = $("#viewer-brightness").value;
    const contrast = $("#viewer-contrast").value;
    this.image.style.filter = `brightness(${brightness}%) contrast(${contrast}%)${v.invert ? " invert(1)" : ""}`;
    $("#viewer-zoom").textContent = `${Math.round(v.zoom * 100)}%`;
    this.image.dataset.zoom = v.zoom.toFixed(3);
    // the toggles say whether they are on
    for (const [act, on] of [["flip-h", v.flipH], ["flip-v", v.flipV], ["invert", v.invert]]) {
      document.querySelector(`#viewer-dialog [data-act="${act}"]`)?.setAttribute("aria-pressed", String(on));
    }
  }

  act(action) {
    const v = this.view;
    switch (action) {
      case "prev": return this.show(this.index - 1);
      case "next": return this.show(this.index + 1);
      case "zoom-in": return this.zoomAt(ZOOM_STEP);
      case "zoom-out": return this.zoomAt(1 / ZOOM_STEP);
      case "fit": return this.fit();
      case "rotate-left": v.rotate = (v.rotate + 270) % 360; return this.fit();
      case "rotate-right": v.rotate = (v.rotate + 90) % 360; return this.fit();
      case "flip-h": v.flipH = !v.flipH; return this.apply();
      case "flip-v": v.flipV = !v.flipV; return this.apply();
      case "invert": v.invert = !v.invert; return this.apply();
      case "reset": this.resetView(); return this.fit();
      case "open-os": return openInViewer(this.list[this.index]).catch((e) => toast(e.message, "error"));
      case "close": return this.dialog.close();
      default: return undefined;
    }
  }

  key(event) {
    if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
    if (this.frames.key(event)) return;
    const map = {
      ...(document.documentElement.dir === "rtl" ? { ArrowLeft: "next", ArrowRight: "prev" } : { ArrowLeft: "prev", ArrowRight: "next" }), "+": "zoom-in", "=": "zoom-in", "-": "zoom-out",
      "0": "fit", r: "rotate-right", R: "rotate-left", h: "flip-h", v: "flip-v", i: "invert",
    };
    const action = map[event.key];
    if (action) {
      event.preventDefault();
      this.act(action);
    }
  }
}

/** The images of a tooth in the order they were taken (the upload time where no date is known). */
function byDate(images) {
  const when = (i) => i.taken_date || i.created_at || "";
  return [...images].sort((a, b) => when(a).localeCompare(when(b)));
}

export class Compare {
  constructor() {
    this.dialog = $("#compare-dialog");
    this.stage = $("#compare-stage");
    this.range = $("#compare-range");
    this.frame = this.stage.querySelector(".compare-frame");
    this.view = { zoom: 1, x: 0, y: 0 };
    $("#compare-close").addEventListener("click", () => this.dialog.close());
    $("#compare-before").addEventListener("change", () => this.load());
    $("#compare-after").addEventListener("change", () => this.load());
    this.range.addEventListener("input", () => this.position(Number(this.range.value)));
    this.dialog.querySelectorAll('input[name="compare-mode"]').forEach((r) => r.addEventListener("change", () => this.mode(r.value)));
    this.dialog.querySelectorAll("[data-compare-act]").forEach((b) => b.addEventListener("click", () => this.act(b.dataset.compareAct)));
    this.dialog.addEventListener("keydown", (e) => this.key(e));
    this.bindPointer();
    $("#compare-before-img").addEventListener("load", (e) => {
      const img = e.target;
      this.stage.style.setProperty("--ratio", String(img.naturalWidth / img.naturalHeight));
    });
    for (const side of ["before", "after"]) {
      const img = $(`#compare-${side}-img`);
      img.addEventListener("error", () => {
        const image = this.byId.get(img.dataset.imageId);
        if (image) this.showMissing(side, image);
      });
    }
  }

  /** Slider mode: dragging moves the split. Side by side: dragging pans both images alike.
   * The wheel zooms both at the pointer in either mode. */
  bindPointer() {
    const frame = this.frame;
    const split = (e) => {
      const box = frame.getBoundingClientRect();
      this.position(((e.clientX - box.left) / box.width) * 100);
    };
    frame.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      frame.setPointerCapture(e.pointerId);
      if (this.sideBySide()) {
        this.drag = { x: e.clientX - this.view.x, y: e.clientY - this.view.y };
        frame.classList.add("panning");
      } else {
        this.drag = "split";
        split(e);
      }
    });
    frame.addEventListener("pointermove", (e) => {
      if (this.drag === "split") return split(e);
      if (!this.drag) return undefined;
      this.view.x = e.clientX - this.drag.x;
      this.view.y = e.clientY - this.drag.y;
      return this.apply();
    });
    const end = () => {
      this.drag = null;
      frame.classList.remove("panning");
    };
    frame.addEventListener("pointerup", end);
    frame.addEventListener("pointercancel", end);
    frame.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoomAt(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, e.clientX, e.clientY);
    }, { passive: false });
  }

  open(images) {
    const sorted = byDate(images);
    this.byId = new Map(sorted.map((i) => [i.id, i]));
    const option = (i) => new Option(`${formatDate(i.taken_date || i.created_at)} · ${TYPE_LABELS[i.image_type]} · ${i.description || i.original_name || i.file_name}`, i.id);
    $("#compare-before").replaceChildren(...sorted.map(option));
    $("#compare-after").replaceChildren(...sorted.map(option));
    const ready = sorted.length >= 2;
    if (ready) {
      // the first "before" and the last "after" when the tooth has them, else the oldest and newest
      const before = sorted.find((i) => i.image_type === "before") || sorted[0];
      const afters = sorted.filter((i) => i.image_type === "after" && i.id !== before.id);
      const after = afters[afters.length - 1] || sorted.filter((i) => i.id !== before.id).pop();
      $("#compare-before").value = before.id;
      $("#compare-after").value = after.id;
    }
    $("#compare-empty").hidden = ready;
    this.stage.querySelector(".compare-box").hidden = !ready;
    this.dialog.showModal();
    if (ready) this.load();
    this.position(50);
    this.fit();
  }

  load() {
    for (const side of ["before", "after"]) {
      const image = this.byId.get($(`#compare-${side}`).value);
      const img = $(`#compare-${side}-img`);
      if (img.dataset.imageId === image.id && img.src === new URL(appUrl(image.url), document.baseURI).href) continue; // as shown
      img.hidden = false;
      $(`#compare-${side}-missing`).hidden = true;
      img.dataset.imageId = image.id;
      img.src = appUrl(image.url);
    }
  }

  /** The file of one side is gone: the placeholder naming where it was expected, as in the
   * grid and the viewer. */
  showMissing(side, image) {
    $(`#compare-${side}-img`).hidden = true;
    const box = $(`#compare-${side}-missing`);
    box.replaceChildren(...missingPlaceholder(image, true).childNodes);
    box.hidden = false;
  }

  position(percent) {
    const p = Math.max(0, Math.min(100, percent));
    this.range.value = String(p);
    $("#compare-after-clip").style.clipPath = `inset(0 0 0 ${p}%)`;
    $("#compare-handle").style.left = `${p}%`;
    this.stage.style.setProperty("--split", String(p)); // a missing-file note centres in its side
  }

  sideBySide() {
    return this.stage.classList.contains("side-mode");
  }

  mode(value) {
    this.stage.classList.toggle("slider-mode", value === "slider");
    this.stage.classList.toggle("side-mode", value === "side");
    this.fit();
  }

  fit() {
    this.view = { zoom: 1, x: 0, y: 0 };
    this.apply();
  }

  /** Zoom both images by `factor`, keeping the point under the pointer where it is (in side by
   * side, the same point of each image). */
  zoomAt(factor, clientX = null, clientY = null) {
    const next = Math.min(MAX_ZOOM, Math.max(1, this.view.zoom * factor));
    if (clientX !== null) {
      const cell = [...this.frame.querySelectorAll(".compare-side")]
        .map((e) => e.getBoundingClientRect())
        .find((b) => clientX >= b.left && clientX <= b.right) || this.frame.getBoundingClientRect();
      const cx = clientX - (cell.left + cell.width / 2);
      const cy = clientY - (cell.top + cell.height / 2);
      const ratio = next / this.view.zoom;
      this.view.x = cx - (cx - this.view.x) * ratio;
      this.view.y = cy - (cy - this.view.y) * ratio;
    }
    this.view.zoom = next;
    if (next === 1) this.view = { zoom: 1, x: 0, y: 0 };
    this.apply();
  }

  apply() {
    const v = this.view;
    for (const side of ["before", "after"]) {
      const img = $(`#compare-${side}-img`);
      img.style.transform = `translate(${v.x}px, ${v.y}px) scale(${v.zoom})`;
      img.dataset.zoom = v.zoom.toFixed(3);
    }
    $("#compare-zoom").textContent = `${Math.round(v.zoom * 100)}%`;
  }

  act(action) {
    switch (action) {
      case "zoom-in": return this.zoomAt(ZOOM_STEP);
      case "zoom-out": return this.zoomAt(1 / ZOOM_STEP);
      case "fit": return this.fit();
      default: return undefined;
    }
  }

  key(event) {
    if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
    const action = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "fit" }[event.key];
    if (action) {
      event.preventDefault();
      this.act(action);
    }
  }
}
