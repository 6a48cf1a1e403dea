// The program's page (loaded by app.js once the language catalog is in): patients on the left; the chosen patient's chart and tooth panel in the
// middle; settings. Every server call goes through bridge.js; every list view asks through its
// own ViewQuestion, so that it only ever shows the answer to what it asks now.
import { formatNumber, leftToRight, t, tn } from "./i18n.js";
import { ViewQuestion, api, isSuperseded } from "./bridge.js";
import { ToothChart } from "./chart.js";
import { ConnectionGuard } from "./connection.js";
import { SettingsPage } from "./settings.js";
import { currentTrashDays } from "./trash.js";
import { InboxPage } from "./inbox.js";
import { ImageSearch } from "./image-search.js";
import { GENERAL, ToothPanel } from "./tooth-panel.js";
import { $, confirmAction, escapeHtml, runFormDialog, toast } from "./ui.js";
import { UploadTray } from "./uploads.js";
import { Compare, Viewer } from "./viewer.js";

const GENDERS = { female: t("Female"), male: t("Male"), other: t("Other") };

const TEXT = {
  listFailed: (message) => t("The patient list could not be loaded: {message}", { message }),
  patientFailed: (message) => t("This patient could not be opened: {message}", { message }),
};

const state = {
  settings: null,
  teeth: null,
  patients: [],
  patientId: null, // the patient asked for; `patient` and `chart` are the answers about them
  showWhenLoaded: false, // their page shows when their answer is in (opened, not yet shown)
  patient: null,
  chart: null,
  showPrimary: false,
};

const questions = { patients: new ViewQuestion(), patient: new ViewQuestion(), poll: new ViewQuestion() };

const viewer = new Viewer();
const compare = new Compare();
const uploads = new UploadTray({
  limits: () => ({ maxBytes: state.settings?.upload?.max_bytes, maxDicomBytes: state.settings?.upload?.max_dicom_bytes }),
  onFinished: (batch) => uploadFinished(batch),
});
// The panel is the one owner of "the open tooth" (panel.tooth); the chart shows it selected.
const panel = new ToothPanel({
  onChanged: () => refreshPatient(),
  openViewer: (list, index) => viewer.open(list, index),
  openCompare: (images) => compare.open(images),
  teethFacts: {},
  startUpload: (target) => uploads.start(target),
  imageFormats: () => (state.settings?.upload?.formats || []).join(", "),
});
const chart = new ToothChart($("#tooth-chart"), $("#chart-tooltip"), { onSelect: (code) => selectTooth(code) });
$("#general-tile").addEventListener("click", () => selectTooth(GENERAL));
const settingsPage = new SettingsPage({ onNotation: (n) => setNotation(n), onDataChanged: () => searchPatients() });
const inboxPage = new InboxPage({
  teeth: () => state.teeth,
  onStored: async (image) => {
    await searchPatients(); // the list's image counts
    if (state.patientId === image.patient_id) await refreshPatient();
  },
});
const imageSearch = new ImageSearch({
  teeth: () => state.teeth,
  openViewer: (list, index) => viewer.open(list, index),
  openPlace: (patientId, tooth) => openPlace(patientId, tooth),
});
new ConnectionGuard({ onBack: () => resync() });

function showView(name) {
  for (const view of ["welcome", "patient", "settings", "inbox", "images"]) $(`#${view}-view`).hidden = view !== name;
}

async function loadTeeth() {
  state.teeth = await api("GET", `api/teeth?notation=${state.settings.numbering}`);
  panel.setTeethFacts({ ...state.teeth.teeth, ...state.teeth.places });
}

async function setNotation(notation) {
  try {
    state.settings = await api("PATCH", "api/settings", { numbering: notation });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  $("#notation").value = notation;
  $("#settings-notation").value = notation;
  await loadTeeth();
  if (state.patient) renderChart();
}

async function searchPatients() {
  const q = $("#patient-search").value.trim();
  const ask = questions.patients.ask();
  let result;
  try {
    result = await ask.get(`api/patients?q=${encodeURIComponent(q)}&limit=200`);
  } catch (error) {
    if (isSuperseded(error) || !ask.current) return;
    $("#patient-list").innerHTML = `<li class="warning empty">${escapeHtml(TEXT.listFailed(error.message))}</li>`;
    return;
  }
  state.patients = result.patients;
  renderPatientList(q);
}

function renderPatientList(query) {
  const list = $("#patient-list");
  $("#patient-count").textContent = query ? t("{count} found", { count: state.patients.length }) : t("Patients ({count})", { count: state.patients.length });
  if (!state.patients.length) {
    list.innerHTML = `<li class="muted empty">${escapeHtml(query ? t("No patient matches.") : t("No patients yet."))}</li>`;
  } else {
    list.replaceChildren(...state.patients.map((p) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.tabIndex = 0;
      item.dataset.patientId = p.id;
      item.setAttribute("aria-selected", String(state.patientId === p.id));
      item.innerHTML = `<span class="name" dir="auto">${escapeHtml(nameOf(p))}</span>
        <span class="meta">#${escapeHtml(p.serial_number)}${p.phone ? ` · <bdi dir="ltr" class="phone">${escapeHtml(p.phone)}</bdi>` : ""}</span>
        <span class="count" title="${escapeHtml(t("Images"))}">${formatNumber(p.image_count)}</span>`;
      item.addEventListener("click", () => openPatient(p.id));
      item.addEventListener("keydown", (e) => {
        if (e.key === "Enter") openPatient(p.id);
        if (e.key === "ArrowDown") item.nextElementSibling?.focus();
        if (e.key === "ArrowUp") item.previousElementSibling?.focus();
      });
      return item;
    }));
  }
  if (!state.patientId && $("#settings-view").hidden && $("#inbox-view").hidden && $("#images-view").hidden) {
    showView("welcome");
    const empty = !query && !state.patients.length;
    $("#load-demo").hidden = !empty;
    $("#welcome-empty-list").hidden = empty;
  }
}

/** Open a patient: from this moment the page is about them (the list marks them, no tooth is
 * open, the chart on screen takes no click); their page shows once their own answer is in. */
async function openPatient(id) {
  state.patientId = id;
  state.patient = null;
  state.chart = null;
  state.showWhenLoaded = true;
  panel.hide();
  markSelectedPatient();
  $("#patient-view").classList.add("loading");
  $("#patient-view").setAttribute("aria-busy", "true");
  if (await refreshPatient()) chart.focusQuietly(); // the arrow keys work in the chart at once
}

/** Ask again about the open patient (record and chart); true when the answer was shown. */
async function refreshPatient() {
  const id = state.patientId;
  if (!id) return false;
  const ask = questions.patient.ask();
  let patient;
  let chartData;
  try {
    [patient, chartData] = await Promise.all([ask.get(`api/patients/${id}`), ask.get(`api/patients/${id}/chart`)]);
  } catch (error) {
    if (isSuperseded(error) || !ask.current) return false;
    if (!state.patient) toast(TEXT.patientFailed(error.message), "error");
    return false;
  }
  if (!ask.current) return false;
  state.patient = patient;
  state.chart = chartData;
  $("#patient-view").classList.remove("loading");
  $("#patient-view").removeAttribute("aria-busy");
  const hasPrimary = Object.keys(chartData.teeth).some((code) => Number.isNaN(Number(code)));
  if (hasPrimary) state.showPrimary = true;
  $("#show-primary").checked = state.showPrimary;
  $("#patient-name").textContent = nameOf(patient);
  const facts = [t("Serial #{serial}", { serial: patient.serial_number }), patient.phone ? leftToRight(patient.phone) : null, patient.age !== null ? tn("{n} year", "{n} years", patient.age) : null, GENDERS[patient.gender] || patient.gender, tn("{n} image", "{n} images", patient.image_count)];
  if (patient.allergies) facts.push(t("Allergies: {allergies}", { allergies: patient.allergies }));
  $("#patient-facts").textContent = facts.filter(Boolean).join(" · ");
  renderChart();
  if (state.showWhenLoaded) {
    state.showWhenLoaded = false;
    showView("patient");
  }
  const item = $(`#patient-list [data-patient-id="${id}"]`);
  if (item) item.querySelector(".count").textContent = formatNumber(patient.image_count);
  markSelectedPatient();
  return true;
}

function markSelectedPatient() {
  $("#patient-list").querySelectorAll("li").forEach((li) => li.setAttribute("aria-selected", String(li.dataset.patientId === state.patientId)));
}

/** An upload ended with files stored: every view showing that patient asks again. */
async function uploadFinished(batch) {
  const work = [searchPatients()]; // the list's counts
  if (state.patientId === batch.patientId) {
    if (panel.shows(batch.patientId, batch.tooth)) {
      panel.showUploaded(batch.imageType);
      work.push(panel.refresh().then(() => panel.shows(batch.patientId, batch.tooth) && panel.revealImages(batch.imageIds)));
    }
    work.push(refreshPatient());
  }
  await Promise.all(work);
}

/** The server answers again after a loss: every view asks its question again. */
async function resync() {
  try {
    state.settings = await api("GET", "api/settings");
    $("#notation").value = state.settings.numbering;
    await loadTeeth();
  } catch {
    return; // lost again: the next "back" resyncs
  }
  const work = [searchPatients()];
  if (state.patientId) work.push(refreshPatient());
  if (panel.tooth) work.push(panel.refresh());
  if (!$("#settings-view").hidden) work.push(settingsPage.show(state.settings));
  await Promise.all(work);
}

/** A patient's name as shown: an empty name (the earlier app allowed one) stays empty in the
 * record and reads "(no name)" on screen. */
function nameOf(patient) {
  return patient.full_name || t("(no name)");
}

function renderChart() {
  if (!state.chart) return;
  chart.render({ rows: state.teeth.rows, teeth: state.teeth.teeth, chart: state.chart, showPrimary: state.showPrimary, selected: panel.tooth });
  const general = state.chart.general || { total: 0 };
  $("#general-count").textContent = formatNumber(general.total);
  $("#general-tile").setAttribute("aria-pressed", String(panel.tooth === GENERAL));
  $("#general-tile").setAttribute("aria-label", tn("Whole mouth / general: {n} image", "Whole mouth / general: {n} images", general.total));
}

async function selectTooth(code) {
  if (!state.patient || state.patient.id !== state.patientId) return; // the patient is still loading
  const shown = panel.show(state.patient, code); // panel.tooth is `code` from here on
  renderChart();
  if (code !== GENERAL) chart.moveFocus(code);
  await shown;
  // Bring the panel into view once it is filled. Only scrolling: the focus stays on the tooth,
  // so the arrow keys keep moving in the chart.
  if (panel.tooth !== code) return; // another tooth was chosen meanwhile
  revealPanel(code);
}

/** Is the tooth panel beside the chart (a wide window) rather than below it? */
function sideBySide() {
  return getComputedStyle($("#patient-view")).display === "grid";
}

/** Show the chosen tooth's panel without taking the chart away. Beside the chart: back up to
 * the panel's top if its previous images had been scrolled (the chart is sticky and stays).
 * Below the chart: down as far as the panel's first images, never so far that the chosen tooth
 * leaves the screen. */
function revealPanel(code) {
  const main = $("main");
  const view = main.getBoundingClientRect();
  const top = $("#tooth-panel").getBoundingClientRect().top - view.top;
  let by;
  if (sideBySide()) {
    by = Math.min(0, top - 16);
  } else {
    const shown = panel.shownCards()[0] || $(panel.tab === "timeline" ? "#timeline" : "#image-grid");
    const box = shown.getBoundingClientRect();
    const wanted = Math.min(box.bottom, box.top + 120) + 16 - view.bottom;
    const chosen = code === GENERAL ? $("#general-tile") : chart.nodes.get(code)?.group;
    const keep = chosen ? chosen.getBoundingClientRect().top - view.top - 8 : wanted;
    by = Math.max(0, Math.min(wanted, keep, top));
  }
  if (Math.abs(by) < 1) return;
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  main.scrollBy({ top: by, behavior: smooth ? "smooth" : "auto" });
}

async function editPatient(patient) {
  $("#patient-dialog-title").textContent = patient ? t("Edit patient") : t("New patient");
  const values = patient ? { ...patient, age: patient.age ?? "" } : {};
  const saved = await runFormDialog($("#patient-dialog"), values, (v) => {
    const body = { ...v, age: v.age || null, gender: v.gender || null };
    if (!body.serial_number) delete body.serial_number;
    return patient ? api("PATCH", `api/patients/${patient.id}`, body) : api("POST", "api/patients", body);
  });
  if (!saved) return;
  toast(patient ? t("Patient saved.") : t("{name} added.", { name: nameOf(saved) }), "ok");
  await searchPatients();
  await openPatient(saved.id);
}

async function deletePatient() {
  const p = await api("GET", `api/patients/${state.patient.id}`); // counts as of now, not as shown
  const images = p.image_count;
  const days = await currentTrashDays();
  const ok = await confirmAction(
    t("Delete {name}?", { name: nameOf(p) }),
    `${tn("The patient, their treatments and {n} image go to the trash.", "The patient, their treatments and {n} images go to the trash.", images)} ${tn("They can be restored from Settings → Trash for {n} day, then they are removed for good.", "They can be restored from Settings → Trash for {n} days, then they are removed for good.", days)}`,
    images ? tn("Delete patient and {n} image", "Delete patient and {n} images", images) : t("Delete patient"),
  );
  if (!ok) return;
  let result;
  try {
    result = await api("DELETE", `api/patients/${p.id}`);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  toast(tn("{name} moved to the trash with {n} image.", "{name} moved to the trash with {n} images.", result.deleted.images, { name: nameOf(p) }), "ok");
  questions.patient.cancel();
  state.patientId = null;
  state.patient = null;
  state.chart = null;
  panel.hide();
  await searchPatients();
  focusPatientList(); // the page's content went with the patient: keep the keyboard somewhere
}

/** The first patient of the list, or the search box when the list is empty. */
function focusPatientList() {
  ($("#patient-list li[data-patient-id]") || $("#patient-search")).focus();
}

/** The missing-file placeholder's "Check and repair": the data check of the settings. */
async function checkAndRepair() {
  if (viewer.dialog.open) viewer.dialog.close();
  await openSettings();
  $("#check-result").scrollIntoView({ block: "center" });
  await settingsPage.backup.check(true);
}

async function openSettings() {
  state.showWhenLoaded = false; // a patient answering late does not take the page back
  showView("settings");
  if (!state.settings) state.settings = await api("GET", "api/settings"); // clicked while loading
  await settingsPage.show(state.settings);
}

async function openInbox() {
  state.showWhenLoaded = false;
  showView("inbox");
  await inboxPage.refresh();
}

function openImageSearch() {
  state.showWhenLoaded = false;
  showView("images");
  imageSearch.show();
}

/** A found image's place: its patient's page with that tooth (or the whole mouth) open. */
async function openPlace(patientId, tooth) {
  await openPatient(patientId);
  if (state.patientId === patientId && state.patient?.id === patientId) await selectTooth(tooth);
}

async function loadDemo() {
  try {
    const made = await api("POST", "api/demo");
    toast(t("Demo data loaded: {patients} patients, {images} images.", { patients: made.patients, images: made.images }), "ok");
  } catch (error) {
    toast(error.message, "error");
  }
  await searchPatients();
  focusPatientList(); // the button is gone with the empty start page
}

function bind() {
  let timer = null;
  $("#patient-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(searchPatients, 120);
  });
  $("#patient-search").addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") $("#patient-list li[tabindex]")?.focus();
    if (e.key === "Enter") $("#patient-list li[tabindex]")?.click();
  });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      $("#patient-search").focus();
    }
  });
  $("#new-patient").addEventListener("click", () => editPatient(null));
  $("#welcome-new").addEventListener("click", () => editPatient(null));
  $("#edit-patient").addEventListener("click", () => state.patient && editPatient(state.patient));
  $("#delete-patient").addEventListener("click", () => state.patient && deletePatient());
  $("#open-settings").addEventListener("click", openSettings);
  $("#open-inbox").addEventListener("click", openInbox);
  $("#open-image-search").addEventListener("click", openImageSearch);
  $("#close-image-search").addEventListener("click", () => {
    showView(state.patientId ? "patient" : "welcome");
    if (!state.patientId) searchPatients();
  });
  $("#close-inbox").addEventListener("click", () => {
    showView(state.patientId ? "patient" : "welcome");
    if (!state.patientId) searchPatients();
  });
  $("#close-settings").addEventListener("click", () => {
    showView(state.patientId ? "patient" : "welcome");
    if (!state.patientId) searchPatients(); // the welcome page's text depends on the list
  });
  $("#load-demo").addEventListener("click", loadDemo);
  $("#notation").addEventListener("change", (e) => setNotation(e.target.value));
  $("#show-primary").addEventListener("change", (e) => {
    state.showPrimary = e.target.checked;
    // a primary tooth's panel goes with the primary teeth (its tooth is no longer drawn)
    if (!state.showPrimary && panel.tooth && panel.tooth !== GENERAL && Number.isNaN(Number(panel.tooth))) panel.hide();
    renderChart();
  });
  document.addEventListener("dental:check-and-repair", () => checkAndRepair());
  document.addEventListener("dental:job-ended", () => poll()); // its lock banner goes at once
}

async function start() {
  bind();
  try {
    state.settings = await api("GET", "api/settings");
    $("#notation").value = state.settings.numbering;
    await loadTeeth();
    await searchPatients();
  } catch (error) {
    toast(error.message, "error");
  }
  document.body.dataset.ready = "true";
  api("POST", "api/ready").catch(() => {});
  poll(); // the banners at once, not only after the first interval
}

/** What the start did that the user must hear of, until it is dismissed. */
function showNotices(notices) {
  $("#notice-banner").hidden = !notices.length;
  $("#notice-banner-text").textContent = notices.map((text) => `⚠ ${text}`).join(" ");
}

$("#notice-banner-dismiss").addEventListener("click", async () => {
  try {
    await api("DELETE", "api/status/notices");
    showNotices([]);
  } catch (error) {
    toast(error.message, "error");
  }
});

/** Another PC may change the open patient or run a whole-store job: look every few seconds. */
async function poll() {
  if (document.hidden || document.querySelector("dialog[open]")) return;
  try {
    const status = await api("GET", "api/status");
    const banner = $("#lock-banner");
    const lock = status.lock;
    banner.hidden = !lock;
    if (lock) {
      banner.className = status.restoring ? "banner restoring" : "banner";
      banner.textContent = status.restoring
        ? t("The clinic's data is being restored on {computer}. Changes are paused until it has finished.", { computer: lock.holder })
        : lock.here
          ? t("A {operation} is running.", { operation: lock.operation })
          : t("A {operation} is running on {computer}.", { operation: lock.operation, computer: lock.holder });
    }
    showNotices(status.notices || []);
    const waiting = status.inbox_count || 0;
    if (waiting !== inboxPage.count) {
      const before = inboxPage.count;
      inboxPage.count = waiting;
      inboxPage.setCount(waiting);
      // arrived, or assigned on another PC: the open Inbox shows it, unless a card is being filled in
      if (before !== undefined && !$("#inbox-view").hidden && !$("#inbox-list").contains(document.activeElement)) inboxPage.refresh();
    }
    const id = state.patientId;
    if (id && state.patient && !$("#patient-view").hidden) {
      const ask = questions.poll.ask();
      const chartData = await ask.get(`api/patients/${id}/chart`);
      // changed elsewhere (another PC): the views ask again, if the page is still about them
      if (ask.current && state.patientId === id && JSON.stringify(chartData) !== JSON.stringify(state.chart)) {
        await Promise.all([refreshPatient(), panel.tooth ? panel.refresh() : null]);
      }
    }
  } catch {
    // the next round tries again; errors of user actions are shown where they happen
  }
}

start();
setInterval(poll, 5000);
