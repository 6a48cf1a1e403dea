"use strict";
// Every call the page makes goes through here: data over HTTP, native things through pywebview.
(function () {
  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) throw Object.assign(new Error(data.error.message), data.error);
    return data;
  }
  window.bridge = { api };
  api("GET", "/api/health").then((h) => {
    document.getElementById("status").textContent = "Ready (version " + h.version + ").";
  });
})();
