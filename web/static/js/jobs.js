// The one way the page follows a background job (backup, restore, verify, import, migration):
// ask GET api/jobs/<id> until it ends, telling the caller each answer; a moment without the
// server (connection.js shows it) is waited out, any other failure ends the following.
import { api } from "./bridge.js";

export const POLL_MS = 400;

/** Resolves with the finished job; `onProgress(job)` sees every answer, the first one too. */
export async function pollJob(job, onProgress = () => {}) {
  let current = job;
  for (;;) {
    onProgress(current);
    if (current.state !== "running") return current;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      current = await api("GET", `api/jobs/${job.id}`);
    } catch (error) {
      if (error.code !== "offline") throw error;
    }
  }
}

/** How far a job's progress is, 0..1: by bytes when it counts them, else by items. */
export function progressFraction(p) {
  const fraction = p.bytes_total ? p.bytes_done / p.bytes_total : p.total ? p.current / p.total : 0;
  return Math.min(1, fraction);
}

/** Ask the server to cancel the job; the job ends as cancelled at its next progress report. */
export function cancelJob(job) {
  return api("POST", `api/jobs/${job.id}/cancel`).catch(() => {});
}
