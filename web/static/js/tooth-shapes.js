// The outline of each tooth in the chart: crown and roots by tooth type, as a dentist sees the
// teeth from the front (labial view). Drawn here, for this program, from a few points per shape.
//
// A shape is written in the tooth's own units: u runs across the tooth from its distal side
// (u = 0) to its mesial side (u = 1, towards the midline); on the crown v runs from the cervical
// line (v = 0) to the biting edge (v = 1), on a root from the cervical line (v = 0) to the apex
// (v = 1). `outline()` places a shape in the chart: upper teeth have their roots up, lower teeth
// down, and the mesial side always faces the midline.

/** Tooth types by position from the midline (1 = central incisor). */
const PERMANENT_TYPES = ["incisor", "incisor", "canine", "premolar", "premolar", "molar", "molar", "molar"];
const PRIMARY_TYPES = ["primary-incisor", "primary-incisor", "primary-canine", "primary-molar", "primary-molar"];

/** Size in chart units by position: width, crown height, root length. */
export const PERMANENT_SIZES = [
  { w: 52, crown: 52, root: 64 },
  { w: 44, crown: 48, root: 58 },
  { w: 46, crown: 54, root: 80 },
  { w: 48, crown: 48, root: 62 },
  { w: 48, crown: 48, root: 60 },
  { w: 62, crown: 46, root: 56 },
  { w: 58, crown: 45, root: 54 },
  { w: 54, crown: 43, root: 48 },
];
export const PRIMARY_SIZES = [
  { w: 40, crown: 38, root: 40 },
  { w: 34, crown: 36, root: 38 },
  { w: 38, crown: 40, root: 46 },
  { w: 46, crown: 34, root: 36 },
  { w: 50, crown: 34, root: 38 },
];

// Crowns: [command, ...points as u, v pairs]; commands as in SVG path data (absolute).
const CROWNS = {
  incisor: [
    ["M", 0.14, -0.04],
    ["C", 0.04, 0.25, 0.0, 0.6, 0.03, 0.9],
    ["Q", 0.05, 1.0, 0.18, 1.0],
    ["L", 0.88, 1.0],
    ["Q", 0.98, 1.0, 0.98, 0.9],
    ["C", 1.0, 0.6, 0.96, 0.25, 0.86, -0.04],
    ["Q", 0.5, -0.16, 0.14, -0.04],
  ],
  canine: [
    ["M", 0.16, -0.04],
    ["C", 0.04, 0.25, 0.0, 0.55, 0.06, 0.74],
    ["L", 0.44, 0.97],
    ["Q", 0.56, 1.04, 0.66, 0.95],
    ["L", 0.94, 0.72],
    ["C", 1.0, 0.55, 0.96, 0.25, 0.84, -0.04],
    ["Q", 0.5, -0.16, 0.16, -0.04],
  ],
  premolar: [
    ["M", 0.18, -0.04],
    ["C", 0.02, 0.22, 0.0, 0.55, 0.08, 0.76],
    ["Q", 0.28, 0.98, 0.54, 1.0],
    ["Q", 0.76, 0.98, 0.92, 0.76],
    ["C", 1.0, 0.55, 0.98, 0.22, 0.82, -0.04],
    ["Q", 0.5, -0.14, 0.18, -0.04],
  ],
  molar: [
    ["M", 0.1, -0.03],
    ["C", 0.0, 0.2, 0.0, 0.55, 0.03, 0.8],
    ["Q", 0.08, 0.98, 0.26, 0.98],
    ["Q", 0.4, 0.98, 0.47, 0.87],
    ["Q", 0.56, 1.02, 0.74, 1.0],
    ["Q", 0.94, 0.98, 0.97, 0.8],
    ["C", 1.0, 0.55, 1.0, 0.2, 0.9, -0.03],
    ["Q", 0.5, -0.1, 0.1, -0.03],
  ],
  "primary-incisor": [
    ["M", 0.2, -0.04],
    ["C", 0.02, 0.15, 0.0, 0.6, 0.06, 0.88],
    ["Q", 0.1, 1.0, 0.26, 1.0],
    ["L", 0.76, 1.0],
    ["Q", 0.92, 1.0, 0.95, 0.88],
    ["C", 1.0, 0.6, 0.98, 0.15, 0.8, -0.04],
    ["Q", 0.5, -0.12, 0.2, -0.04],
  ],
  "primary-canine": [
    ["M", 0.2, -0.04],
    ["C", 0.0, 0.15, 0.0, 0.55, 0.08, 0.72],
    ["L", 0.42, 0.97],
    ["Q", 0.52, 1.04, 0.62, 0.97],
    ["L", 0.92, 0.72],
    ["C", 1.0, 0.55, 1.0, 0.15, 0.8, -0.04],
    ["Q", 0.5, -0.12, 0.2, -0.04],
  ],
  "primary-molar": [
    ["M", 0.18, -0.04],
    ["C", 0.0, 0.08, 0.0, 0.45, 0.04, 0.78],
    ["Q", 0.1, 0.98, 0.3, 0.97],
    ["Q", 0.44, 0.96, 0.5, 0.87],
    ["Q", 0.58, 0.98, 0.74, 0.98],
    ["Q", 0.92, 0.98, 0.96, 0.78],
    ["C", 1.0, 0.45, 1.0, 0.08, 0.82, -0.04],
    ["Q", 0.5, -0.12, 0.18, -0.04],
  ],
};

/** One root between u = a and u = b at the cervical line, its apex at `length` (of the tooth's
 * root length) and shifted across by `bend`. */
function root(a, b, { bend = 0, length = 1 } = {}) {
  const half = (b - a) / 2;
  const apex = a + half + bend;
  return [
    ["M", a, -0.12],
    ["L", a, 0],
    ["C", a + 0.1 * half, 0.5, apex - 0.4 * half, length * 0.94, apex, length],
    ["C", apex + 0.4 * half, length * 0.94, b - 0.1 * half, 0.5, b, 0],
    ["L", b, -0.12],
  ];
}

// Roots by type and arch, drawn in this order (the first lies behind the others).
const ROOTS = {
  incisor: { upper: [root(0.2, 0.8, { bend: -0.02 })], lower: [root(0.22, 0.78)] },
  canine: { upper: [root(0.18, 0.82, { bend: -0.03 })], lower: [root(0.2, 0.8, { bend: -0.02 })] },
  // the upper first premolar has a buccal and a palatal root; the others one
  "premolar-1": { upper: [root(0.16, 0.5, { bend: -0.03 }), root(0.5, 0.84, { bend: 0.01, length: 0.95 })], lower: [root(0.2, 0.8, { bend: -0.03 })] },
  premolar: { upper: [root(0.2, 0.8, { bend: -0.03 })], lower: [root(0.2, 0.8, { bend: -0.03 })] },
  // upper molars: the palatal root (behind), the distobuccal and the mesiobuccal; lower molars:
  // the distal and the mesial
  molar: {
    upper: [root(0.3, 0.7), root(0.05, 0.45, { bend: -0.05, length: 0.82 }), root(0.55, 0.95, { bend: -0.02, length: 0.88 })],
    lower: [root(0.07, 0.5, { bend: -0.06, length: 0.95 }), root(0.5, 0.93, { bend: -0.02 })],
  },
  "primary-incisor": { upper: [root(0.22, 0.78, { bend: -0.03 })], lower: [root(0.24, 0.76)] },
  "primary-canine": { upper: [root(0.2, 0.8, { bend: -0.02 })], lower: [root(0.22, 0.78)] },
  // primary molars: thin roots spread wide (the crown of the next tooth grows between them)
  "primary-molar": {
    upper: [root(0.36, 0.64, { length: 0.9 }), root(0.05, 0.38, { bend: -0.12 }), root(0.62, 0.95, { bend: 0.12 })],
    lower: [root(0.05, 0.4, { bend: -0.12 }), root(0.6, 0.95, { bend: 0.12 })],
  },
};

/** The type of the tooth at `position` (1 = central incisor): "incisor", "canine",
 * "premolar", "molar", or "primary-incisor", "primary-canine", "primary-molar". */
export function toothType(position, primary) {
  return (primary ? PRIMARY_TYPES : PERMANENT_TYPES)[position - 1];
}

/** The size of the tooth at `position`: {w, crown, root} in chart units. */
export function toothSize(position, primary) {
  return (primary ? PRIMARY_SIZES : PERMANENT_SIZES)[position - 1];
}

function pathData(commands, point) {
  return commands
    .map(([command, ...values]) => {
      const pairs = [];
      for (let i = 0; i < values.length; i += 2) pairs.push(point(values[i], values[i + 1]).map((n) => n.toFixed(1)).join(" "));
      return `${command} ${pairs.join(" ")}`;
    })
    .join(" ") + " Z";
}

/**
 * The outline of one tooth: {type, crown: path data, roots: [path data, ...], crownTop,
 * crownBottom}. `x`, `w`: its column; `cervical`: the y of its cervical line; `upper`: roots up;
 * `mesialRight`: the midline is on its right (the viewer's left half of the chart).
 */
export function outline({ position, primary, upper, x, w, cervical, mesialRight }) {
  const type = toothType(position, primary);
  const size = toothSize(position, primary);
  const across = (u) => x + (mesialRight ? u : 1 - u) * w;
  const towardsBite = upper ? 1 : -1;
  const crown = pathData(CROWNS[type], (u, v) => [across(u), cervical + towardsBite * v * size.crown]);
  const rootSet = ROOTS[type === "premolar" && position === 4 ? "premolar-1" : type][upper ? "upper" : "lower"];
  const roots = rootSet.map((r) => pathData(r, (u, v) => [across(u), cervical - towardsBite * v * size.root]));
  const edge = cervical + towardsBite * size.crown;
  return { type, crown, roots, crownTop: Math.min(cervical, edge), crownBottom: Math.max(cervical, edge) };
}
