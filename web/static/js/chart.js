// The tooth chart: an SVG odontogram drawn from data. Upper arch on top, lower below, the
// patient's right on the viewer's left. Each tooth is a column: its outline (tooth-shapes.js,
// roots towards the column's outer end), the colours of its treatments' statuses on the crown,
// and its image badge beyond the roots. Keyboard: arrows move, Enter/Space selects.
import { formatNumber, label, t, tn } from "./i18n.js";
import { PERMANENT_SIZES, PRIMARY_SIZES, outline, toothSize } from "./tooth-shapes.js";

const SVG = "http://www.w3.org/2000/svg";
const VIEW_WIDTH = 1000;
const GAP = 6; // between two teeth of a row
const BADGE_HEIGHT = 22;
const BADGE_ROOM = BADGE_HEIGHT + 10; // the badges' own strip, beyond the longest root
const STATUS_ORDER = ["in_progress", "planned", "completed", "cancelled"];
export const STATUS_COLORS = {
  in_progress: "#3b82f6",
  planned: "#f59e0b",
  completed: "#22c55e",
  cancelled: "#9ca3af",
};
/** Treatment status names in the current language (from the catalog's labels). */
export const STATUS_LABELS = Object.fromEntries(Object.keys(STATUS_COLORS).map((code) => [code, label("statuses", code)]));

/** Position from the midline (1 = central incisor) of a Universal code. */
export function positionOf(code) {
  const n = Number(code);
  if (Number.isInteger(n)) return n <= 8 ? 9 - n : n <= 16 ? n - 8 : n <= 24 ? 25 - n : n - 24;
  const i = code.charCodeAt(0) - 65;
  return i <= 4 ? 5 - i : i <= 9 ? i - 4 : i <= 14 ? 15 - i : i - 14;
}

/** The distinct statuses of a tooth's treatments, the one that matters most first: one band of
 * colour each on the crown. */
export function statusesOf(treatments) {
  return STATUS_ORDER.filter((status) => treatments.some((t) => t.status === status));
}

/** Narrow teeth (primary incisors) with long labels (Palmer "URB"): a smaller font, never a
 * label that spills over the tooth's outline. All measured first, then all changed: one layout
 * for the whole chart, not one per tooth. */
function fitLabels(labels) {
  if (!labels.length) return;
  const size = parseFloat(getComputedStyle(labels[0].label).fontSize) || 20;
  const lengths = labels.map(({ label }) => label.getComputedTextLength());
  labels.forEach(({ label, room }, i) => {
    if (lengths[i] > room) label.style.fontSize = `${Math.floor((size * room) / lengths[i])}px`;
  });
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.append(node);
  return node;
}

/** The height of a row's columns: the tallest tooth (crown and root) and the badges' strip. */
function columnHeight(primary) {
  const sizes = primary ? PRIMARY_SIZES : PERMANENT_SIZES;
  return Math.max(...sizes.map((s) => s.crown + s.root)) + BADGE_ROOM;
}

/** One row of teeth placed side by side, centred, along an arch: `top` is the row's upper
 * edge; the teeth at its ends sit `curve` nearer the other arch than those at the midline. */
function layoutRow(codes, { top, upper, primary, curve }) {
  const sizes = codes.map((c) => toothSize(positionOf(c), primary));
  const total = sizes.reduce((sum, s) => sum + s.w, 0) + GAP * (codes.length - 1);
  const height = columnHeight(primary);
  const reach = height - BADGE_ROOM; // the longest crown and root
  let x = (VIEW_WIDTH - total) / 2;
  return codes.map((code, i) => {
    const size = sizes[i];
    const centre = x + size.w / 2;
    const offset = (centre - VIEW_WIDTH / 2) / (total / 2);
    const bend = curve * offset * offset;
    // the biting edge: upper teeth bite downwards, lower teeth upwards
    const bite = upper ? top + height + bend : top + curve - bend;
    const slot = {
      code, x, w: size.w, upper, primary,
      y: upper ? bite - height : bite, h: height,
      cervical: upper ? bite - size.crown : bite + size.crown,
      badgeY: upper ? bite - reach - BADGE_ROOM / 2 : bite + reach + BADGE_ROOM / 2,
      mesialRight: centre < VIEW_WIDTH / 2,
    };
    x += size.w + GAP;
    return slot;
  });
}

/** The rows, top to bottom, and the chart's height. */
function layoutChart(rows, showPrimary) {
  const plan = [{ codes: rows.upper, upper: true, primary: false, curve: 22 }];
  if (showPrimary) {
    plan.push({ codes: rows.upper_primary, upper: true, primary: true, curve: 12 });
    plan.push({ codes: rows.lower_primary, upper: false, primary: true, curve: 12 });
  }
  plan.push({ codes: rows.lower, upper: false, primary: false, curve: 22 });
  let top = 4;
  const laid = plan.map((row, i) => {
    const slots = layoutRow(row.codes, { ...row, top });
    const next = plan[i + 1];
    top += columnHeight(row.primary) + row.curve + (next && next.upper !== row.upper ? 22 : 12);
    return slots;
  });
  return { rows: laid, height: top - 8 };
}

export class ToothChart {
  constructor(svg, tooltip, { onSelect }) {
    this.svg = svg;
    this.tooltip = tooltip;
    this.onSelect = onSelect;
    this.rows = [];
    this.nodes = new Map();
    this.focused = null;
    this.selected = null;
    svg.addEventListener("keydown", (event) => this.handleKey(event));
    // the tooltip is placed for the tooth where it is now; scrolling would leave it behind
    document.addEventListener("scroll", () => this.hideTooltip(), { capture: true, passive: true });
  }

  render({ rows, teeth, chart, showPrimary, selected }) {
    // redrawing replaces every tooth: the one with the focus gets it back afterwards
    const active = document.activeElement;
    const hadFocus = this.svg.contains(active) ? active.dataset.tooth || this.focused : null;
    this.teeth = teeth;
    this.chart = chart;
    this.selected = selected;
    const width = VIEW_WIDTH;
    const { rows: laid, height } = layoutChart(rows, showPrimary);
    this.rows = laid;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.classList.toggle("with-primary", Boolean(showPrimary));
    this.svg.replaceChildren();
    this.nodes.clear();
    el("line", { x1: width / 2, y1: 4, x2: width / 2, y2: height - 4, class: "midline" }, this.svg);
    const side = (x, text) => {
      const t = el("text", { x, y: height / 2 + 7, class: "side-label" }, this.svg);
      t.textContent = text;
    };
    side(18, "R");
    side(width - 30, "L");
    const labels = [];
    for (const row of this.rows) for (const slot of row) labels.push(this.drawTooth(slot));
    fitLabels(labels);
    const start = [hadFocus, selected].find((code) => this.nodes.has(code)) || this.rows[0][0].code;
    this.setFocusable(start);
    if (hadFocus) this.focusQuietly(start);
  }

  /** Give the keyboard focus to a tooth without its tooltip: the program moved the focus (a
   * redraw, a patient opened, a tooth chosen), the user did not. */
  focusQuietly(code = this.focused) {
    if (!this.nodes.has(code)) return;
    this.quiet = true;
    try {
      this.nodes.get(code).group.focus({ preventScroll: true });
    } finally {
      this.quiet = false;
    }
  }

  drawTooth(slot) {
    const { code, x, y, w, h } = slot;
    const data = this.chart.teeth[code] || { total: 0, counts: {}, treatments: [] };
    const statuses = statusesOf(data.treatments);
    const status = statuses[0] || null;
    const facts = this.teeth[code];
    const shape = outline({ position: positionOf(code), ...slot });
    const group = el("g", {
      class: "tooth" + (status ? ` status-${status}` : "") + (code === this.selected ? " selected" : ""),
      role: "button",
      tabindex: "-1",
      "data-tooth": code,
      "data-type": shape.type,
      "aria-label": `${facts.label}: ${facts.name}, ${tn("{n} image", "{n} images", data.total)}` +
        statuses.map((s) => `, ${STATUS_LABELS[s]}`).join(""),
      "aria-pressed": String(code === this.selected),
    }, this.svg);
    // the whole column takes the click, the hover and the focus ring, roots and badge included
    el("rect", { x: x - GAP / 2 + 0.5, y, width: w + GAP - 1, height: h, rx: 8, class: "column" }, group);
    for (const d of shape.roots) el("path", { d, class: "root" }, group);
    el("path", { d: shape.crown, class: "crown", fill: status ? STATUS_COLORS[status] : "#ffffff" }, group);
    if (statuses.length > 1) {
      // one band of colour per status across the crown, in the crown's outline
      const clipId = `crown-clip-${code}`;
      el("path", { d: shape.crown }, el("clipPath", { id: clipId }, group));
      const bands = el("g", { class: "status-bands", "clip-path": `url(#${clipId})` }, group);
      const band = w / statuses.length;
      statuses.forEach((s, i) => {
        el("rect", {
          x: x + i * band, y: shape.crownTop - 12, width: band + (i < statuses.length - 1 ? 0.5 : 0),
          height: shape.crownBottom - shape.crownTop + 24, fill: STATUS_COLORS[s], class: `status-band band-${s}`, "data-status": s,
        }, bands);
      });
      el("path", { d: shape.crown, class: "crown-edge" }, group);
    }
    const label = el("text", { x: x + w / 2, y: (shape.crownTop + shape.crownBottom) / 2 + 7, class: "tooth-label" }, group);
    label.textContent = facts.label;
    if (data.total > 0) {
      // in the tooth's own column, beyond its roots: never over a neighbour
      const text = data.total > 99 ? "99+" : formatNumber(data.total);
      const badge = el("g", { class: "badge" }, group);
      const pill = el("rect", { y: slot.badgeY - BADGE_HEIGHT / 2, height: BADGE_HEIGHT, rx: BADGE_HEIGHT / 2 }, badge);
      const count = el("text", { x: x + w / 2, y: slot.badgeY + 5 }, badge);
      count.textContent = text;
      // measured by its characters: the chart may be drawn while it is still hidden
      const width = Math.min(w - 2, Math.max(BADGE_HEIGHT, 12 + 9 * text.length));
      pill.setAttribute("x", x + (w - width) / 2);
      pill.setAttribute("width", width);
    }
    group.addEventListener("click", () => this.choose(code));
    group.addEventListener("mouseenter", () => this.showTooltip(code));
    group.addEventListener("mouseleave", () => this.hideTooltip());
    group.addEventListener("focus", () => {
      if (this.focused !== code) this.setFocusable(code); // the arrow keys go on from here
      if (!this.quiet && group.matches(":focus-visible")) this.showTooltip(code);
    });
    group.addEventListener("blur", () => this.hideTooltip());
    this.nodes.set(code, { group, slot });
    return { label, room: w - 8 };
  }

  choose(code) {
    this.setFocusable(code);
    this.focusQuietly(code);
    this.hideTooltip(); // the tooth's panel opens below and says it all
    this.onSelect(code);
  }

  setFocusable(code) {
    if (this.focused && this.nodes.has(this.focused)) this.nodes.get(this.focused).group.setAttribute("tabindex", "-1");
    this.focused = code;
    this.nodes.get(code).group.setAttribute("tabindex", "0");
  }

  moveFocus(code) {
    this.setFocusable(code);
    this.nodes.get(code).group.focus();
  }

  handleKey(event) {
    const code = this.focused;
    if (!code) return;
    const rowIndex = this.rows.findIndex((r) => r.some((s) => s.code === code));
    const row = this.rows[rowIndex];
    const index = row.findIndex((s) => s.code === code);
    const centre = row[index].x + row[index].w / 2;
    const nearest = (other) =>
      other.reduce((best, s) => (Math.abs(s.x + s.w / 2 - centre) < Math.abs(best.x + best.w / 2 - centre) ? s : best)).code;
    let next = null;
    switch (event.key) {
      case "ArrowRight": next = row[Math.min(row.length - 1, index + 1)].code; break;
      case "ArrowLeft": next = row[Math.max(0, index - 1)].code; break;
      case "ArrowDown": next = rowIndex < this.rows.length - 1 ? nearest(this.rows[rowIndex + 1]) : code; break;
      case "ArrowUp": next = rowIndex > 0 ? nearest(this.rows[rowIndex - 1]) : code; break;
      case "Home": next = row[0].code; break;
      case "End": next = row[row.length - 1].code; break;
      case "Enter":
      case " ":
        event.preventDefault();
        this.choose(code);
        return;
      default: return;
    }
    event.preventDefault();
    this.moveFocus(next);
  }

  showTooltip(code) {
    const data = this.chart.teeth[code] || { total: 0, counts: {}, treatments: [] };
    const facts = this.teeth[code];
    const lines = [`<strong>${escapeHtml(facts.label)} · ${escapeHtml(facts.name)}</strong>`];
    if (data.treatments.length) {
      for (const t of data.treatments) {
        lines.push(`<span class="dot" style="background:${STATUS_COLORS[t.status]}"></span>${escapeHtml(t.treatment_type)} — ${STATUS_LABELS[t.status]}`);
      }
    } else {
      lines.push(`<em>${escapeHtml(t("No treatments"))}</em>`);
    }
    const counts = Object.entries(data.counts || {}).filter(([, n]) => n > 0);
    lines.push(counts.length ? counts.map(([k, n]) => `${label("image_types", k)}: ${formatNumber(n)}`).join(" · ") : `<em>${escapeHtml(t("No images"))}</em>`);
    this.tooltip.innerHTML = lines.join("<br>");
    this.tooltip.hidden = false;
    // under the crown of an upper tooth (over the bite, not the roots); under a lower tooth
    const { group, slot } = this.nodes.get(code);
    const box = (slot.upper ? group.querySelector(".crown") : group).getBoundingClientRect();
    const host = this.tooltip.offsetParent.getBoundingClientRect();
    const left = Math.min(box.left - host.left, host.width - this.tooltip.offsetWidth - 8);
    this.tooltip.style.left = `${Math.max(4, left)}px`;
    this.tooltip.style.top = `${box.bottom - host.top + 6}px`;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
  }
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
