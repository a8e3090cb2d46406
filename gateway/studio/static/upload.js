// Uploads: many files at once, a few in flight, each with its own progress bar
// (XMLHttpRequest's upload progress, which fetch does not give) and its own result: a refused
// file shows the API's reason and the others go on.
import { el } from "/studio/static/api.js";

const IN_FLIGHT = 3;

function csrf() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("clf_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("clf_csrf=".length)) : "";
}

function reasonOf(xhr) {
  let answer = null;
  try { answer = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
  if (!answer) return xhr.status ? `The server answered ${xhr.status}.` : "The connection was lost.";
  const rules = (answer.errors || []).map((e) => `${e.field} ${e.rule}`).join("; ");
  return rules ? `${answer.detail}: ${rules}` : answer.detail || `The server answered ${xhr.status}.`;
}

/** POST one file; `onProgress(sent, total)`; resolves {ok, item | reason}. */
function send(url, file, dir, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => resolve(xhr.status < 300
      ? { ok: true, item: JSON.parse(xhr.responseText) } : { ok: false, reason: reasonOf(xhr) });
    xhr.onerror = () => resolve({ ok: false, reason: "The connection was lost during the upload." });
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("dir", dir);
    xhr.send(body);
  });
}

const size = (n) => n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`;

/** Upload `files` to the dataset, showing each in `list`; resolves with the counts. */
export async function uploadAll(datasetId, files, dir, list, onDone) {
  const rows = [...files].map((file) => {
    const bar = el("progress", { max: file.size || 1, value: 0, "aria-label": `Upload of ${file.name}` });
    const result = el("span", { class: "result" }, "waiting");
    const row = el("li", { class: "upload", "data-file": file.name, "data-state": "waiting" },
      el("span", { class: "name", title: file.name }, `${file.name} (${size(file.size)})`), bar, result);
    list.append(row);
    return { file, bar, result, row };
  });
  const counts = { stored: 0, refused: 0 };
  let next = 0;
  async function worker() {
    while (next < rows.length) {
      const r = rows[next++];
      r.row.dataset.state = "sending";
      r.result.textContent = "sending…";
      const answer = await send(`/api/v1/datasets/${datasetId}/items/upload`, r.file, dir,
                                (sent, total) => { r.bar.max = total; r.bar.value = sent; });
      r.bar.value = r.bar.max;
      if (answer.ok) {
        counts.stored++;
        const m = answer.item.metadata?.system || {};
        const what = m.mimetype?.startsWith("video/") ? `video, ${m.nb_frames ?? "?"} frames`
          : `${m.width}×${m.height}`;
        r.result.textContent = `stored (${what})`;
        r.row.dataset.state = "done";
      } else {
        counts.refused++;
        r.result.textContent = `refused: ${r.reason = answer.reason}`;
        r.row.dataset.state = "refused";
      }
      onDone?.(counts);
    }
  }
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, rows.length) }, worker));
  return counts;
}
