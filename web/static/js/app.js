// The program's page: patients on the left; the chosen patient's chart and tooth panel in the
// middle; settings. Every server call goes through bridge.js.
import { api } from "./bridge.js";
import { ToothChart } from "./chart.js";
import { SettingsPage } from "./settings.js";
import { ToothPanel } from "./tooth-panel.js";
import { $, confirmAction, escapeHtml, runFormDialog, toast } from "./ui.js";
import { Compare, Viewer } from "./viewer.js";

const state = {
  settings: null,
  teeth: null,
  patients: [],
  patient: null,
  chart: null,
  tooth: null,
  showPrimary: false,
};

const viewer = new Viewer();
const compare = new Compare();
const panel = new ToothPanel({
  onChanged: () => refreshPatient(),
  openViewer: (list, index) => viewer.open(list, index),
  openCompare: (images) => compare.open(images),
  teethFacts: {},
});
const chart = new ToothChart($("#tooth-chart"), $("#chart-tooltip"), { onSelect: (code) => selectTooth(code) });
const settingsPage = new SettingsPage({ onNotation: (n) => setNotation(n), onDataChanged: () => searchPatients() });

function showView(name) {
  for (const view of ["welcome", "patient", "settings"]) $(`#${view}-view`).hidden = view !== name;
}

async function loadTeeth() {
  state.teeth = await api("GET", `api/teeth?notation=${state.settings.numbering}`);
  panel.setTeethFacts(state.teeth.teeth);
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
  const result = await api("GET", `api/patients?q=${encodeURIComponent(q)}&limit=200`);
  state.patients = result.patients;
  renderPatientList(q);
}

function renderPatientList(query) {
  const list = $("#patient-list");
  $("#patient-count").textContent = query ? `${state.patients.length} found` : `Patients (${state.patients.length})`;
  if (!state.patients.length) {
    list.innerHTML = `<li class="muted empty">${query ? "No patient matches." : "No patients yet."}</li>`;
  } else {
    list.replaceChildren(...state.patients.map((p) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.tabIndex = 0;
      item.dataset.patientId = p.id;
      item.setAttribute("aria-selected", String(state.patient?.id === p.id));
      item.innerHTML = `<span class="name">${escapeHtml(nameOf(p))}</span>
        <span class="meta">#${escapeHtml(p.serial_number)}${p.phone ? " · " + escapeHtml(p.phone) : ""}</span>
        <span class="count" title="Images">${p.image_count}</span>`;
      item.addEventListener("click", () => openPatient(p.id));
      item.addEventListener("keydown", (e) => {
        if (e.key === "Enter") openPatient(p.id);
        if (e.key === "ArrowDown") item.nextElementSibling?.focus();
        if (e.key === "ArrowUp") item.previousElementSibling?.focus();
      });
      return item;
    }));
  }
  if (!state.patient && $("#settings-view").hidden) {
    showView("welcome");
    const empty = !query && !state.patients.length;
    $("#load-demo").hidden = !empty;
    $("#welcome-empty-list").hidden = empty;
  }
}

async function openPatient(id) {
  state.patient = await api("GET", `api/patients/${id}`);
  state.tooth = null;
  panel.hide();
  await refreshPatient();
  showView("patient");
  chart.focusQuietly(); // the arrow keys work in the chart at once
}

async function refreshPatient() {
  if (!state.patient) return;
  const id = state.patient.id;
  const [patient, chartData] = await Promise.all([api("GET", `api/patients/${id}`), api("GET", `api/patients/${id}/chart`)]);
  state.patient = patient;
  state.chart = chartData;
  const hasPrimary = Object.keys(chartData.teeth).some((code) => Number.isNaN(Number(code)));
  if (hasPrimary) state.showPrimary = true;
  $("#show-primary").checked = state.showPrimary;
  $("#patient-name").textContent = nameOf(patient);
  const facts = [`Serial #${patient.serial_number}`, patient.phone, patient.age !== null ? `${patient.age} years` : null, patient.gender, `${patient.image_count} image${patient.image_count === 1 ? "" : "s"}`];
  if (patient.allergies) facts.push(`Allergies: ${patient.allergies}`);
  $("#patient-facts").textContent = facts.filter(Boolean).join(" · ");
  renderChart();
  const item = $(`#patient-list [data-patient-id="${id}"]`);
  if (item) item.querySelector(".count").textContent = patient.image_count;
  $("#patient-list").querySelectorAll("li").forEach((li) => li.setAttribute("aria-selected", String(li.dataset.patientId === id)));
}

/** A patient's name as shown: an empty name (the earlier app allowed one) stays empty in the
 * record and reads "(no name)" on screen. */
function nameOf(patient) {
  return patient.full_name || "(no name)";
}

function renderChart() {
  chart.render({ rows: state.teeth.rows, teeth: state.teeth.teeth, chart: state.chart, showPrimary: state.showPrimary, selected: state.tooth });
}

async function selectTooth(code) {
  state.tooth = code;
  renderChart();
  chart.moveFocus(code);
  await panel.show(state.patient, code);
  // The panel starts below the chart: bring it into view once it is filled. Only scrolling: the
  // focus stays on the tooth, so the arrow keys keep moving in the chart (and bring it back).
  if (state.tooth !== code) return; // another tooth was chosen meanwhile
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  $("#tooth-panel").scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "nearest" });
}

async function editPatient(patient) {
  $("#patient-dialog-title").textContent = patient ? "Edit patient" : "New patient";
  const values = patient ? { ...patient, age: patient.age ?? "" } : {};
  const saved = await runFormDialog($("#patient-dialog"), values, (v) => {
    const body = { ...v, age: v.age || null, gender: v.gender || null };
    if (!body.serial_number) delete body.serial_number;
    return patient ? api("PATCH", `api/patients/${patient.id}`, body) : api("POST", "api/patients", body);
  });
  if (!saved) return;
  toast(patient ? "Patient saved." : `${nameOf(saved)} added.`, "ok");
  await searchPatients();
  await openPatient(saved.id);
}

async function deletePatient() {
  const p = await api("GET", `api/patients/${state.patient.id}`); // counts as of now, not as shown
  const images = p.image_count;
  const ok = await confirmAction(
    `Delete ${nameOf(p)}?`,
    `This removes the patient, their treatments and ${images} image${images === 1 ? "" : "s"} (the files too). This cannot be undone.`,
    images ? `Delete patient and ${images} image${images === 1 ? "" : "s"}` : "Delete patient",
  );
  if (!ok) return;
  let result;
  try {
    result = await api("DELETE", `api/patients/${p.id}`);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  toast(`${nameOf(p)} deleted with ${result.deleted.images} images.`, "ok");
  state.patient = null;
  panel.hide();
  await searchPatients();
  focusPatientList(); // the page's content went with the patient: keep the keyboard somewhere
}

/** The first patient of the list, or the search box when the list is empty. */
function focusPatientList() {
  ($("#patient-list li[data-patient-id]") || $("#patient-search")).focus();
}

async function openSettings() {
  showView("settings");
  if (!state.settings) state.settings = await api("GET", "api/settings"); // clicked while loading
  await settingsPage.show(state.settings);
}

async function loadDemo() {
  try {
    const made = await api("POST", "api/demo");
    toast(`Demo data loaded: ${made.patients} patients, ${made.images} images.`, "ok");
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
  $("#edit-patient").addEventListener("click", () => editPatient(state.patient));
  $("#delete-patient").addEventListener("click", deletePatient);
  $("#open-settings").addEventListener("click", openSettings);
  $("#close-settings").addEventListener("click", () => {
    showView(state.patient ? "patient" : "welcome");
    if (!state.patient) searchPatients(); // the welcome page's text depends on the list
  });
  $("#load-demo").addEventListener("click", loadDemo);
  $("#notation").addEventListener("change", (e) => setNotation(e.target.value));
  $("#show-primary").addEventListener("change", (e) => {
    state.showPrimary = e.target.checked;
    renderChart();
  });
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
        ? `The clinic's data is being restored on ${lock.holder}. Changes are paused until it has finished.`
        : `A ${lock.operation} is running${lock.here ? "" : ` on ${lock.holder}`}.`;
    }
    showNotices(status.notices || []);
    if (state.patient && !$("#patient-view").hidden) {
      const chartData = await api("GET", `api/patients/${state.patient.id}/chart`);
      if (JSON.stringify(chartData) !== JSON.stringify(state.chart)) {
        await refreshPatient();
        if (state.tooth) await panel.refresh();
      }
    }
  } catch {
    // the next round tries again; errors of user actions are shown where they happen
  }
}

start();
setInterval(poll, 5000);
