// The one gateway between the page and the program: data goes to the local HTTP API with the
// launch token; native things (file dialogs, the OS viewer) go to pywebview's js_api when the
// page runs in the program's window, and fall back to browser means otherwise.

const TOKEN = document.querySelector('meta[name="dental-token"]').content;

/** An address the API gives (such as an image's "/images/<id>/file", relative to the program's
 * root) as the page must use it: relative to the page's <base>, which holds the per-launch
 * secret path prefix. */
export function appUrl(path) {
  return path.replace(/^\/+/, "");
}

export class ApiError extends Error {
  constructor(error) {
    super(error.message || "Request failed");
    Object.assign(this, error);
  }
}

async function parse(response) {
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: { status: response.status, code: "bad_response", message: text.slice(0, 200) } };
  }
  if (!response.ok) throw new ApiError(data.error || { status: response.status, message: response.statusText });
  return data;
}

export async function api(method, path, body) {
  const options = { method, headers: { "X-Dental-Token": TOKEN }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError({ code: "offline", message: "The program's server does not answer. Restart the program." });
  }
  return parse(response);
}

/** POST a multipart form with upload progress: onProgress(fraction). Resolves with the API's
 * JSON; rejects with an ApiError. */
function postForm(path, form, onProgress) {
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
        reject(new ApiError({ message: "The server sent an unreadable answer." }));
        return;
      }
      // `results` says per file why it was refused (the row of the file shows its own reason)
      if (request.status >= 400) reject(new ApiError({ ...data.error, results: data.results }));
      else resolve(data);
    };
    request.onerror = () => reject(new ApiError({ code: "offline", message: "The upload did not reach the program." }));
    request.send(form);
  });
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
  return { files: await pickWithInput("image/*,.tif,.tiff,.dcm,application/dicom", true), errors: [] };
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
