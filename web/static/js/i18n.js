// The page's texts in the PC's language: the same gettext catalog as the program's own messages,
// served as JSON by GET /api/i18n. Write every text the user sees as
//   t("Patient {name} saved.", { name })         one message
//   tn("{n} image", "{n} images", count)          a message that depends on a count
// so that scripts/i18n.sh finds it (pybabel's javascript extractor, keywords t and tn). The
// English source text is the key; a text missing from the catalog shows in English.
import { api } from "./bridge.js";

const ENGLISH_PLURAL_FORMS = "nplurals=2; plural=(n != 1);";
const NUMBERING = { latin: "latn", arabic: "arab" };

let catalog = {
  locale: "en",
  direction: "ltr",
  digits: "latin",
  theme: "system",
  language: "system",
  labels: {},
  messages: {},
};
let plural = compilePluralForms(ENGLISH_PLURAL_FORMS);

/** Fetch this PC's catalog and use it. Resolves with the catalog. */
export async function loadCatalog() {
  return useCatalog(await api("GET", "api/i18n"));
}

/** Use a catalog as GET /api/i18n returns it (locale, direction, plural_forms, messages...). */
export function useCatalog(data) {
  catalog = { ...catalog, ...data, messages: data.messages || {}, labels: data.labels || {} };
  plural = compilePluralForms(data.plural_forms || ENGLISH_PLURAL_FORMS);
  return catalog;
}

export const locale = () => catalog.locale;
export const direction = () => catalog.direction;
export const theme = () => catalog.theme;
export const digits = () => catalog.digits;

/** `message` in the current language with its `{name}` placeholders filled from `values`. */
export function t(message, values = {}) {
  const translated = catalog.messages[message];
  return fill(typeof translated === "string" && translated ? translated : message, values);
}

/** The form of a message for the count `n` (Arabic has six: zero, one, two, few, many, other);
 * `{n}` is the count, in this PC's digits. */
export function tn(singular, pluralText, n, values = {}) {
  const forms = catalog.messages[singular];
  let text;
  if (Array.isArray(forms) && forms.length) {
    text = forms[pluralIndex(n)] || (n === 1 ? singular : pluralText);
  } else {
    text = n === 1 ? singular : pluralText;
  }
  return fill(text, { ...values, n });
}

/** Which of the catalog's plural forms the count `n` takes, by the catalog's Plural-Forms rule. */
export function pluralIndex(n) {
  return plural(Math.abs(Math.trunc(Number(n) || 0)));
}

/** The name of an image type ("before", ...) or treatment status ("planned", ...) in the current
 * language; `kind` is "image_types" or "statuses". */
export function label(kind, code) {
  return catalog.labels[kind]?.[code] ?? code;
}

// Making an Intl formatter costs far more than using one (a tooth of 300 images made 600):
// one per locale and options, kept.
const formatters = new Map();

function formatter(Kind, options) {
  const key = `${Kind.name}|${intlLocale()}|${JSON.stringify(options)}`;
  if (!formatters.has(key)) formatters.set(key, new Kind(intlLocale(), options));
  return formatters.get(key);
}

/** A number in the current language and this PC's digits (0-9 or ٠-٩). */
export function formatNumber(value, options = {}) {
  return formatter(Intl.NumberFormat, options).format(value);
}

/** A date (Date, or ISO text) in the current language and digits; `options` as for Intl. */
export function formatDate(value, options = { dateStyle: "medium" }) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value ?? "");
  return formatter(Intl.DateTimeFormat, options).format(date);
}

function intlLocale() {
  const numbering = NUMBERING[catalog.digits] || NUMBERING.latin;
  return `${catalog.locale}-u-nu-${numbering}`;
}

// First-strong isolate ... pop directional isolate: a name, file name or path put into a
// right-to-left sentence keeps its own direction and does not reorder the words around it.
const ISOLATE = ["\u2068", "\u2069"];

/** `text` (a phone number, a path) kept left to right inside any sentence: in Arabic, the groups
 * of "+971 50 123 4567" would otherwise be shown in reverse order. */
export function leftToRight(text) {
  return `\u2066${text}\u2069`;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!Object.prototype.hasOwnProperty.call(values, name)) return whole;
    const value = values[name];
    if (typeof value === "number") return formatNumber(value);
    return catalog.direction === "rtl" ? `${ISOLATE[0]}${value}${ISOLATE[1]}` : String(value);
  });
}

/** A function n -> form index from a gettext header such as
 * "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : ...);". The expression is parsed here (C's
 * operators on n and whole numbers), never evaluated as code; an unreadable one falls back to
 * English's rule. */
export function compilePluralForms(header) {
  const count = Number((/nplurals\s*=\s*(\d+)/.exec(header) || [])[1] || 2);
  const source = (/plural\s*=\s*([^;]+)/.exec(header) || [])[1];
  let rule;
  try {
    rule = parsePlural(source || "");
  } catch {
    rule = (n) => (n !== 1 ? 1 : 0);
  }
  return (n) => {
    const index = Number(rule(n));
    return index >= 0 && index < count ? index : count - 1;
  };
}

const TOKEN = /\s*(\d+|n|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:()])/y;

function parsePlural(source) {
  const tokens = [];
  let position = 0;
  while (source.slice(position).trim()) {
    TOKEN.lastIndex = position;
    const match = TOKEN.exec(source);
    if (!match) throw new Error(`plural rule: cannot read ${source}`);
    tokens.push(match[1]);
    position = TOKEN.lastIndex;
  }
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected) => {
    const token = tokens[at++];
    if (expected !== undefined && token !== expected) throw new Error(`plural rule: ${expected} expected`);
    return token;
  };
  const binary = (next, operators) => () => {
    let left = next();
    while (operators[peek()]) {
      const apply = operators[take()];
      const right = next();
      const l = left;
      left = (n) => apply(l(n), right(n));
    }
    return left;
  };
  const primary = () => {
    const token = take();
    if (token === "n") return (n) => n;
    if (token === "(") {
      const inner = ternary();
      take(")");
      return inner;
    }
    if (/^\d+$/.test(token || "")) {
      const value = Number(token);
      return () => value;
    }
    throw new Error(`plural rule: unexpected ${token}`);
  };
  const unary = () => {
    if (peek() === "!") {
      take();
      const operand = unary();
      return (n) => (operand(n) ? 0 : 1);
    }
    if (peek() === "-") {
      take();
      const operand = unary();
      return (n) => -operand(n);
    }
    return primary();
  };
  const truth = (value) => (value ? 1 : 0);
  const product = binary(unary, {
    "*": (a, b) => a * b,
    "/": (a, b) => Math.trunc(a / b),
    "%": (a, b) => a % b,
  });
  const sum = binary(product, { "+": (a, b) => a + b, "-": (a, b) => a - b });
  const relation = binary(sum, {
    "<": (a, b) => truth(a < b),
    ">": (a, b) => truth(a > b),
    "<=": (a, b) => truth(a <= b),
    ">=": (a, b) => truth(a >= b),
  });
  const equality = binary(relation, { "==": (a, b) => truth(a === b), "!=": (a, b) => truth(a !== b) });
  const and = binary(equality, { "&&": (a, b) => truth(a && b) });
  const or = binary(and, { "||": (a, b) => truth(a || b) });
  function ternary() {
    const condition = or();
    if (peek() !== "?") return condition;
    take("?");
    const yes = ternary();
    take(":");
    const no = ternary();
    return (n) => (condition(n) ? yes(n) : no(n));
  }
  const rule = ternary();
  if (at !== tokens.length) throw new Error(`plural rule: unexpected ${peek()}`);
  return rule;
}
