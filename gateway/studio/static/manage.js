// What the owners' and managers' pages share: every page of a list, a form's values, a
// refusal shown under the form that caused it (the API's own words), dates, copy buttons.
import { api, el } from "/studio/static/api.js";

export const $ = (id) => document.getElementById(id);

/** The project last opened, in the header: one click back to it from any of these pages. */
function currentProject() {
  const nav = document.querySelector(".main-nav"), known = JSON.parse(localStorage.getItem("clf.project") || "null");
  if (!nav || !known) return;
  nav.append(el("a", { href: `/projects/${known.id}`, id: "current-project", title: "The project you opened last" }, `Project: ${known.name}`));
}
currentProject();

/** Every item of a paged list (`?page=&pageSize=`). */
export async function allPages(path, max = 10_000) {
  const out = [];
  for (let page = 0; out.length < max; page++) {
    const answer = await api("GET", `${path}${path.includes("?") ? "&" : "?"}page=${page}&pageSize=100`);
    out.push(...answer.items);
    if (!answer.hasNextPage || answer.items.length === 0) break;
  }
  return out;
}

/** Run `work` for a form's submit: the button off meanwhile, a refusal in the form's
 * `.error` region (role=alert), a success message in its `.ok` region. */
export function onSubmit(form, work) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit], button:not([type])");
    const error = form.querySelector(".error"), ok = form.querySelector(".ok");
    if (error) error.textContent = "";
    if (ok) ok.textContent = "";
    if (button) button.disabled = true;
    try {
      const said = await work(new FormData(form));
      if (ok && typeof said === "string") ok.textContent = said;
    } catch (err) {
      if (error) error.textContent = err.message; else throw err;
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/** Show an action's refusal in `box` (role=alert) and keep the page going. */
export async function tryIn(box, work) {
  box.textContent = "";
  try {
    return await work();
  } catch (err) {
    box.textContent = err.message;
    return undefined;
  }
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** A read-only field with the text and a Copy button (links and secrets shown once). */
export function copyable(label, text, id) {
  const input = el("input", { type: "text", readonly: true, value: text, id, "aria-label": label, class: "copy-text" });
  const button = el("button", { type: "button", onclick: async () => {
    input.select();
    try { await navigator.clipboard.writeText(text); } catch { document.execCommand("copy"); }
    button.textContent = "Copied";
  } }, "Copy");
  return el("div", { class: "copyable" }, input, button);
}

/** The current project's id, remembered per browser so the header and pages follow it. */
export function rememberProject(project) {
  localStorage.setItem("clf.project", JSON.stringify({ id: project.id, name: project.name }));
}

export function table(caption, heads, rows, id) {
  return el("table", { class: "task-table", id, "aria-label": caption },
    el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}

export function crumbs(project) {
  const link = $("project-link");
  if (link && project) {
    link.textContent = project.name;
    link.href = `/projects/${project.id}`;
  }
}

/** A command through the API: its answer, or, when it was answered 202, the operation's
 * result once it ends (a rejection thrown with the service's words). */
export async function command(method, path, body) {
  let answer = await api(method, path, body);
  while (answer && answer.url && answer.url.includes("/operations/") && answer.status !== "succeeded") {
    const op = await api("GET", answer.url.replace(/^.*\/api\/v1/, ""));
    if (op.status === "rejected") throw new Error(op.error?.message || "The command was refused.");
    if (op.status !== "pending") return op.result?.task ? { ...op.result.task, summary: op.result.summary } : op.result;
    await new Promise((r) => setTimeout(r, 300));
    answer = { url: answer.url };
  }
  return answer;
}
