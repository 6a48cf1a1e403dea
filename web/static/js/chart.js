// The tooth chart: an SVG odontogram drawn from data. Upper arch on top, lower below, the
// patient's right on the viewer's left. Keyboard: arrows move, Enter/Space selects.
import { formatNumber, label, t, tn } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const PERMANENT_WIDTHS = [52, 44, 46, 48, 48, 62, 58, 54]; // central incisor .. third molar
const PRIMARY_WIDTHS = [40, 34, 38, 46, 50]; // central incisor .. second molar
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

function isPrimary(code) {
  return !Number.isInteger(Number(code));
}

/** The status that matters most for a tooth's colour. */
export function leadingStatus(treatments) {
  for (const status of STATUS_ORDER) if (treatments.some((t) => t.status === status)) return status;
  return null;
}

/** Narrow teeth (primary incisors) with long labels (Palmer "URB"): a smaller font, never a
 * label that spills over the tooth's outline. */
function fitLabel(label, room) {
  const length = label.getComputedTextLength();
  if (length > room && length > 0) {
    const size = parseFloat(getComputedStyle(label).fontSize) || 19;
    label.style.fontSize = `${Math.floor((size * room) / length)}px`;
  }
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.append(node);
  return node;
}

function layoutRow(codes, y0, curve, height, widths, gap, viewWidth) {
  const sizes = codes.map((c) => widths[positionOf(c) - 1]);
  const total = sizes.reduce((a, b) => a + b, 0) + gap * (codes.length - 1);
  let x = (viewWidth - total) / 2;
  return codes.map((code, i) => {
    const w = sizes[i];
    const centre = x + w / 2;
    const offset = (centre - viewWidth / 2) / (viewWidth / 2);
    const y = y0 + curve * offset * offset;
    const slot = { code, x, y, w, h: height };
    x += w + gap;
    return slot;
  });
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
    const width = 1000;
    const upper = layoutRow(rows.upper, 30, 70, 86, PERMANENT_WIDTHS, 6, width);
    const lower = layoutRow(rows.lower, showPrimary ? 470 : 240, -70, 86, PERMANENT_WIDTHS, 6, width);
    this.rows = [upper];
    if (showPrimary) {
      this.rows.push(layoutRow(rows.upper_primary, 215, 40, 64, PRIMARY_WIDTHS, 6, width));
      this.rows.push(layoutRow(rows.lower_primary, 330, -40, 64, PRIMARY_WIDTHS, 6, width));
    }
    this.rows.push(lower);
    const height = showPrimary ? 590 : 350;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.classList.toggle("with-primary", Boolean(showPrimary));
    this.svg.replaceChildren();
    this.nodes.clear();
    el("line", { x1: width / 2, y1: 10, x2: width / 2, y2: height - 10, class: "midline" }, this.svg);
    const side = (x, text) => {
      const t = el("text", { x, y: height / 2 + 5, class: "side-label" }, this.svg);
      t.textContent = text;
    };
    side(18, "R");
    side(width - 30, "L");
    for (const row of this.rows) for (const slot of row) this.drawTooth(slot);
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
    const status = leadingStatus(data.treatments);
    const facts = this.teeth[code];
    const group = el("g", {
      class: "tooth" + (status ? ` status-${status}` : "") + (code === this.selected ? " selected" : ""),
      role: "button",
      tabindex: "-1",
      "data-tooth": code,
      "aria-label": `${facts.label}: ${facts.name}, ${tn("{n} image", "{n} images", data.total)}` +
        (status ? `, ${STATUS_LABELS[status]}` : ""),
      "aria-pressed": String(code === this.selected),
    }, this.svg);
    const round = positionOf(code) >= 4 ? 14 : 18;
    el("rect", {
      x, y, width: w, height: h, rx: round, ry: round, class: "crown",
      fill: status ? STATUS_COLORS[status] : "#ffffff",
    }, group);
    const label = el("text", { x: x + w / 2, y: y + h / 2 + 6, class: "tooth-label" }, group);
    label.textContent = facts.label;
    fitLabel(label, w - 8);
    if (data.total > 0) {
      const badge = el("g", { class: "badge" }, group);
      el("circle", { cx: x + w - 4, cy: y + 4, r: 13 }, badge);
      const count = el("text", { x: x + w - 4, y: y + 9 }, badge);
      count.textContent = data.total > 99 ? "99+" : String(data.total);
    }
    group.addEventListener("click", () => this.choose(code));
    group.addEventListener("mouseenter", () => this.showTooltip(code));
    group.addEventListener("mouseleave", () => this.hideTooltip());
    group.addEventListener("focus", () => !this.quiet && group.matches(":focus-visible") && this.showTooltip(code));
    group.addEventListener("blur", () => this.hideTooltip());
    this.nodes.set(code, { group, slot });
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
    const box = this.nodes.get(code).group.getBoundingClientRect();
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
