// Export downloads: the answer read as it streams in (the server streams it; bytes received,
// and a JSON export's items counted as they arrive against its X-Item-Count), then saved as a
// file; a refusal shown as the API words it.
import { $ } from "/studio/static/manage.js";

const mb = (n) => n >= 1e6 ? `${(n / 1e6).toFixed(n > 1e7 ? 0 : 1)} MB` : `${Math.max(1, Math.round(n / 1e3))} kB`;

/** Download `path` (under /api/v1) as `name`; `expected` items show the progress of a JSON export. */
export async function exportTo(path, name, expected = 0, prefix = "export") {
  const box = $(`${prefix}-progress`), bar = $(`${prefix}-bar`), text = $(`${prefix}-text`), error = $(`${prefix}-error`);
  error.textContent = "";
  box.hidden = false;
  bar.removeAttribute("value");
  text.textContent = "Preparing the export…";
  try {
    const r = await fetch("/api/v1" + path, { credentials: "same-origin" });
    if (!r.ok) {
      const answer = await r.json().catch(() => ({}));
      throw new Error(answer.detail || `The server answered ${r.status}.`);
    }
    const total = Number(r.headers.get("Content-Length")) || 0;
    expected = Number(r.headers.get("X-Item-Count")) || expected;
    const reader = r.body.getReader(), chunks = [], decoder = new TextDecoder();
    let got = 0, items = 0;
    const json = name.endsWith(".json");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.length;
      if (json) items += (decoder.decode(value, { stream: true }).match(/"annotationsCount"/g) || []).length;
      if (total) { bar.max = total; bar.value = got; } else if (json && expected) { bar.max = expected; bar.value = items; }
      text.textContent = `${mb(got)} received${json ? ` · ${items}${expected ? ` of ${expected}` : ""} items` : ""}`;
    }
    const blob = new Blob(chunks, { type: json ? "application/json" : "application/zip" });
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    bar.max = 1; bar.value = 1;
    text.textContent = `Done: ${name}, ${mb(got)}${json ? `, ${items} items` : ""}.`;
    box.dataset.done = "true";
  } catch (e) {
    box.hidden = true;
    error.textContent = e.message;
  }
}
