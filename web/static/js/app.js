// The page's entry: this PC's language catalog first, then the page itself (page.js), so that
// every text the modules build, at load or later, is in that language. Without an answer the
// page shows in English (the source texts) and the connection screen takes over as usual.
import { loadCatalog } from "./i18n.js";

try {
  await loadCatalog();
} catch {
  // English it is; page.js reports the server being away.
}
await import("./page.js");
