// The one gateway between the page and the program: data goes to the local HTTP API with the
// launch token; native things (file dialogs, the OS viewer) go to pywebview's js_api when the
// page runs in the program's window, and fall back to browser means otherwise.
import { t } from "./i18n.js";

const TOKEN = document.querySelector('meta[name="dental-token"]').content;

/** An address the API gives (such as an image's "/images/<id>/file", relative to the program's
 * root) as the page must use it: relative to the page's <base>, which holds the per-launch
 * secret path prefix. */
export function appUrl(path) {
  return path.replace(/^\/+/, "");
}

export class ApiError extends Error {
  constructor(error) {
    super(error.message || t("Request failed"));
    Object.assign(this, error);
  }
}

// What the fetch layer itself says; the views keep their own words.
const TEXT = {
  get offline() {
    return t("The program's server does not answer. The page retries by itself.");
  },
  get uploadOffline() {
    return t("The upload did not reach the program: the connection was lost. Add the file again once it is back.");
  },
  get unreadable() {
    return t("The server sent an unreadable answer.");
  },
  get expired() {
    return t("This window belongs to an earlier start of the program; open the program again.");
  },
};

/** The answer to a question the view no longer asks (see ViewQuestion): never shown. */
export function isSuperseded(error) {
  return Boolean(error && error.code === "superseded");
}

// ---- the connection: "online", "offline" (no answer: retrying) or "expired" (the server
// answers, but to another start of the program: this page's key no longer opens it) ----

let connectionState = "online";
const connectionListeners = new Set();

export function connection() {
  return connectionState;
}

/** `listener(state)` hears every change of the connection's state. */
export function onConnectionChange(listener) {
  connectionListeners.add(listener);
}

function setConnection(state) {
  if (connectionState === state || connectionState === "expired") return; // expired is final
  connectionState = state;
  for (const listener of connectionListeners) listener(state);
}

/** Requests on their way (for the page's own waits and the tests: "settled" means 0). */
let pending = 0;
function track(delta) {
  pending += delta;
  document.documentElement.dataset.requests = String(pending);
}

/** The server answered, but not as this start of the program: the page key is refused (403
 * from the token check) or the secret path is another start's (a bare, non-JSON 404). */
function answersAnotherStart(response, data) {
  if (response.status === 403) return data?.error?.code === "forbidden";
  return response.status === 404 && data?.error?.code === "bad_response";
}

async function parse(response) {
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: { status: response.status, code: "bad_response", message: text.slice(0, 200) } };
  }
  if (answersAnotherStart(response, data)) {
    setConnection("expired");
    throw new ApiError({ status: response.status, code: "expired", message: TEXT.expired });
  }
  if (!response.ok) throw new ApiError(data.error || { status: response.status, message: response.statusText });
  return data;
}

/** One call of the API. `signal` (an AbortSignal) withdraws the question: the call then
 * rejects with a superseded error, whatever the server answered. */
export async function api(method, path, body, { signal } = {}) {
  const options = { method, headers: { "X-Dental-Token": TOKEN }, credentials: "same-origin", signal };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const superseded = () => new ApiError({ code: "superseded", message: "superseded" });
  track(1);
  try {
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      if (signal?.aborted) throw superseded();
      setConnection("offline");
      throw new ApiError({ code: "offline", message: TEXT.offline });
    }
    let data;
    try {
      data = await parse(response);
    } catch (error) {
      if (signal?.aborted) throw superseded();
      throw error;
    }
    if (signal?.aborted) throw superseded();
    if (connectionState === "offline") setConnection("online");
    return data;
  } finally {
    track(-1);
  }
}

/** The questions of one view (the patient list, the chart, a tooth's panel, a settings list):
 * asking a new one withdraws the one before, whose answer then never reaches the screen. The
 * view renders an answer only while `question.current` holds. */
export class ViewQuestion {
  constructor() {
    this.controller = null;
  }

  /** A new question: {get(path), current, signal}. */
  ask() {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    return {
      signal: controller.signal,
      get current() {
        return !controller.signal.aborted;
      },
      get: (path) => api("GET", path, undefined, { signal: controller.signal }),
    };
  }

  /** Withdraw the question on its way, if any (the view closed). */
  cancel() {
    this.controller?.abort();
    this.controller = null;
  }
}

/** POST a multipart form with upload progress: onProgress(fraction). Resolves with the API's
 * JSON; rejects with an ApiError. */
function postForm(path, form, onProgress) {
  track(1);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.setRequestHeader("X-Dental-Token", TOKEN);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let data;
      try {
        data = JSON.parse(request.responseText);
      } catch {
        data = { error: { status: request.status, code: "bad_response", message: TEXT.unreadable } };
      }
      if (answersAnotherStart(request, data)) {
        setConnection("expired");
        reject(new ApiError({ code: "expired", message: TEXT.expired }));
        return;
      }
      if (connectionState === "offline") setConnection("online");
      // `results` says per file why it was refused (the row of the file shows its own reason)
      if (request.status >= 400) reject(new ApiError({ ...data.error, results: data.results }));
      else resolve(data);
    };
    request.onerror = () => {
      setConnection("offline");
      reject(new ApiError({ code: "offline", message: TEXT.uploadOffline }));
    };
    request.send(form);
  }).finally(() => track(-1));
}

/** Upload one file with progress: onProgress(fraction). Resolves with the API's JSON. */
export function uploadFile(path, file, fields, onProgress) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) if (value) form.append(key, value);
  form.append("files", file, file.name || "pasted-image.png");
  return postForm(path, form, onProgress);
}

function native() {
  return window.pywebview && window.pywebview.api ? window.pywebview.api : null;
}

export function hasNative() {
  return Boolean(native() && native().choose_image_files);
}

function base64ToFile(item) {
  const bytes = Uint8Array.from(atob(item.data_base64), (c) => c.charCodeAt(0));
  return new File([bytes], item.name, { type: item.mime || "application/octet-stream" });
}

function pickWithInput(accept, multiple) {
  return new Promise((resolve) => {
    const input = document.createElement("input");
    input.type = "file";
    input.accept = accept;
    input.multiple = multiple;
    input.hidden = true;
    input.dataset.bridgePicker = "1";
    document.body.append(input);
    input.addEventListener("change", () => {
      resolve(Array.from(input.files));
      input.remove();
    });
    input.addEventListener("cancel", () => {
      resolve([]);
      input.remove();
    });
    input.click();
  });
}

/** Files the person chose: native dialog in the window, a file input in a browser.
 * Resolves with {files: File[], errors: [{name, message}]}. */
export async function chooseImageFiles() {
  if (hasNative()) {
    const chosen = await native().choose_image_files();
    return {
      files: chosen.filter((c) => !c.error).map(base64ToFile),
      errors: chosen.filter((c) => c.error).map((c) => ({ name: c.name, message: c.error })),
    };
  }
  return { files: await pickWithInput("image/*,.tif,.tiff,.heic,.heif,image/heic,image/heif,.dcm,application/dicom", true), errors: [] };
}

export async function chooseFolder() {
  return native() && native().choose_folder ? native().choose_folder() : null;
}

export async function chooseBackupFile() {
  if (native() && native().choose_backup_file) return native().choose_backup_file();
  const [file] = await pickWithInput(".zip,.db,.json", false);
  return file || null;
}

/** Upload a backup file chosen in a browser, for a restore or a verify. onProgress(fraction).
 * Resolves with {path} of the staged copy on the computer running the program. */
export function uploadBackupFile(file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name || "backup.zip");
  return postForm("api/backups/upload", form, onProgress);
}

/** Open an image in the OS viewer (window) or in a new browser tab. */
export async function openInViewer(image) {
  if (native() && native().open_image) return native().open_image(image.id);
  window.open(appUrl(image.url), "_blank", "noopener");
  return true;
}

export async function revealDataFolder() {
  if (native() && native().reveal_data_folder) return native().reveal_data_folder();
  return false;
}

export async function openLogFolder() {
  if (native() && native().open_log_folder) return native().open_log_folder();
  return false;
}

export function download(url) {
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}

/** In the program's window: load the page of the server running now (its address and key are
 * known to the program, not to this page). False in a browser, where only the person can open
 * the program again. */
export async function reopenOwnPage() {
  if (!native() || !native().reopen_page) return false;
  try {
    return Boolean(await native().reopen_page());
  } catch {
    return false;
  }
}
