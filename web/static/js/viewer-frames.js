// The frame bar of the viewer: a multi-frame DICOM image (a CBCT export) shown one frame at a
// time, each served as PNG by GET /images/<id>/frames/<n>, stepped by hand or played as a loop.
// The bar reads left to right in every language, as the compare slider does: frame 1 is on the
// left, ◀ goes towards it.
import { appUrl } from "./bridge.js";
import { t } from "./i18n.js";
import { $ } from "./ui.js";

const WHEEL_STEP = 100; // pixels of touchpad travel per frame
const WHEEL_NOTCH = 40;
const KEPT_PICTURES = 8; // frames kept loaded: the ones just seen and the next one
const PLAY_FRAME_MS = 100; // ten frames a second while playing

const KEYS = {
  PageUp: (s) => s.wanted - 1,
  PageDown: (s) => s.wanted + 1,
  Comma: (s) => s.wanted - 1,
  Period: (s) => s.wanted + 1,
  Home: () => 1,
  End: (s) => s.count,
};

export class FrameBar {
  constructor(image, stage) {
    this.image = image;
    this.stage = stage;
    this.bar = $("#viewer-frames");
    this.range = $("#viewer-frame-range");
    this.label = $("#viewer-frame-label");
    this.playButton = $("#viewer-frame-play");
    this.state = null;
    this.timer = 0;
    this.bar.querySelectorAll("[data-frame-act]").forEach((b) => b.addEventListener("click", () => {
      if (this.state) this.step(this.state.wanted + (b.dataset.frameAct === "next" ? 1 : -1));
    }));
    this.playButton.addEventListener("click", () => this.toggle());
    this.range.addEventListener("input", () => this.step(Number(this.range.value)));
    this.image.closest("dialog").addEventListener("close", () => this.pause());
  }

  /** Set up the bar for `image` (its JSON); the path of what the viewer shows first: the middle
   * frame of a multi-frame file, as its thumbnail does (a CBCT's first slices are often empty). */
  start(image) {
    this.pause();
    const count = image.dicom?.frames || 1;
    this.bar.hidden = count < 2;
    if (count < 2) {
      this.state = null;
      delete this.image.dataset.frame;
      return image.url;
    }
    const first = Math.floor(count / 2) + 1;
    this.state = { image, count, wanted: first, shown: first, direction: 1, loading: false, wheel: 0, pictures: new Map() };
    this.range.max = String(count);
    this.image.dataset.frame = String(first);
    this.render();
    return framePath(image, first);
  }

  /** Frame `number` chosen by hand: playing stops there. */
  step(number) {
    this.pause();
    this.go(number);
  }

  /** Play the frames as a loop from the one shown, or stop playing. */
  toggle() {
    if (this.timer) this.pause();
    else this.play();
  }

  play() {
    const state = this.state;
    if (!state || this.timer) return;
    const tick = () => {
      if (this.state !== state) return;
      // the next frame only once the last one is shown: a slow PC plays slower, skipping none
      if (state.shown === state.wanted) {
        this.go(state.wanted >= state.count ? 1 : state.wanted + 1);
        state.direction = 1; // the loop goes on forwards: the frame after the next is fetched
      }
      this.timer = setTimeout(tick, PLAY_FRAME_MS);
    };
    this.timer = setTimeout(tick, PLAY_FRAME_MS);
    this.renderPlay();
  }

  pause() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.renderPlay();
  }

  renderPlay() {
    const playing = Boolean(this.timer);
    this.playButton.classList.toggle("playing", playing);
    this.playButton.setAttribute("aria-pressed", String(playing));
    const label = playing ? t("Pause (P)") : t("Play the frames (P)");
    this.playButton.title = label;
    this.playButton.setAttribute("aria-label", label);
  }

  /** Show frame `number` (from 1). The label and slider follow at once; the image once the
   * frame has loaded, and only while it is still the one chosen. */
  go(number) {
    const state = this.state;
    if (!state) return;
    const n = Math.min(state.count, Math.max(1, Math.round(number)));
    if (n !== state.wanted) state.direction = n > state.wanted ? 1 : -1;
    state.wanted = n;
    this.render();
    if (!state.loading) this.load(state);
  }

  /** One frame asked for at a time, always the latest choice: dragging the slider across 400
   * frames asks for the few it can show, not all 400. */
  async load(state) {
    state.loading = true;
    while (this.state === state && state.shown !== state.wanted) {
      const n = state.wanted;
      await this.picture(state, n);
      if (this.state !== state || state.wanted !== n) continue;
      // a frame that failed is set too: the viewer's error handler shows the placeholder
      this.image.src = appUrl(framePath(state.image, n));
      this.image.dataset.frame = String(n);
      state.shown = n;
    }
    state.loading = false;
    if (this.state === state) this.picture(state, state.shown + state.direction);
  }

  /** Frame `n` loaded into the browser (kept for a while, so stepping back is instant);
   * resolves when it has loaded or failed. */
  picture(state, n) {
    if (n < 1 || n > state.count) return Promise.resolve();
    if (!state.pictures.has(n)) {
      const picture = new Image();
      const loaded = new Promise((resolve) => {
        picture.onload = resolve;
        picture.onerror = resolve;
      });
      picture.src = appUrl(framePath(state.image, n));
      state.pictures.set(n, { picture, loaded });
      if (state.pictures.size > KEPT_PICTURES) state.pictures.delete(state.pictures.keys().next().value);
    }
    return state.pictures.get(n).loaded;
  }

  render() {
    const { wanted, count } = this.state;
    this.range.value = String(wanted);
    this.label.textContent = t("Frame {n} of {count}", { n: wanted, count });
    this.range.setAttribute("aria-valuetext", this.label.textContent);
    for (const [act, end] of [["prev", wanted <= 1], ["next", wanted >= count]]) {
      const button = this.bar.querySelector(`[data-frame-act="${act}"]`);
      // a disabled button drops the focus out of the dialog, and the keys with it
      if (end && document.activeElement === button) this.stage.focus();
      button.disabled = end;
    }
  }

  /** A frame key of the viewer (Page Up/Down, comma/period by their place on the keyboard, so
   * also on an Arabic layout, Home/End; P plays or pauses); true when it was one. */
  key(event) {
    if (!this.state || event.ctrlKey || event.altKey || event.metaKey) return false;
    if (event.code === "KeyP" || event.key === "p" || event.key === "P") {
      event.preventDefault();
      this.toggle();
      return true;
    }
    const target = KEYS[event.key] || KEYS[event.code];
    if (!target) return false;
    event.preventDefault();
    this.step(target(this.state));
    return true;
  }

  /** Shift + wheel steps through the frames (the wheel alone zooms); true when it did. */
  wheel(event) {
    if (!this.state || !event.shiftKey) return false;
    // a browser may turn Shift + wheel into a sideways scroll
    const delta = (event.deltaY || event.deltaX) * (event.deltaMode === 1 ? 33 : 1);
    const state = this.state;
    // a mouse notch (40 to 120 pixels, by system) is one frame; a touchpad's small moves add up
    state.wheel = Math.abs(delta) >= WHEEL_NOTCH ? Math.sign(delta) * WHEEL_STEP : state.wheel + delta;
    const steps = Math.trunc(state.wheel / WHEEL_STEP);
    if (steps) {
      state.wheel -= steps * WHEEL_STEP;
      this.step(state.wanted + steps);
    }
    return true;
  }
}

function framePath(image, n) {
  return image.dicom.frame_url.replace("{n}", String(n));
}
