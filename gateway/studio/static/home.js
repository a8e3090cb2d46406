// `/`: the tasks page. Every task of the signed-in user's projects (theirs first), with its
// type, classes, progress by status, due date and assignees; a row opens its task page on
// double-click or Enter, and its studio link opens the studio.
import { api, el } from "/studio/static/api.js";
import { classesOf, dueOf, progress, typeOf } from "/studio/static/progress.js";

async function allPages(path) {
  const out = [];
  for (let page = 0; ; page++) {
    const answer = await api("GET", `${path}${path.includes("?") ? "&" : "?"}page=${page}&pageSize=100`);
    out.push(...answer.items);
    if (!answer.hasNextPage || answer.items.length === 0) return out;
  }
}

const open = (task) => location.assign(`/tasks/${task.id}`);

function row(task) {
  const people = task.assignees.length ? task.assignees.join(", ") : "nobody yet";
  const tr = el("tr", { class: "task-row", tabindex: -1, "data-task-id": task.id,
                        "aria-label": `${task.name}: press Enter to open the task`,
                        ondblclick: () => open(task) },
    el("td", {}, el("strong", { class: "task-title" }, task.name),
       el("div", { class: "muted" }, task.project)),
    el("td", {}, el("span", { class: `badge ${typeOf(task)}` }, typeOf(task)),
       el("div", { class: "muted" }, classesOf(task))),
    el("td", {}, progress(task.availableActions, task.itemStatus, task.totalItems),
       el("div", { class: "muted" }, `${task.totalItems} items · ${task.progress}% done`)),
    el("td", {}, dueOf(task)),
    el("td", { class: "people" }, people),
    el("td", { class: "actions" },
       el("a", { href: `/tasks/${task.id}`, "aria-label": "Open the task page" }, "Open"), " ",
       el("a", { href: `/tasks/${task.id}/studio`, "aria-label": `Studio: ${task.name}` }, "Studio")));
  return tr;
}

function table(label, tasks, id) {
  return el("table", { class: "task-table", id, "aria-label": label },
    el("thead", {}, el("tr", {}, ...["Task", "Type", "Progress by status", "Due", "Assignees", ""]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...tasks.map(row)));
}

/** Up/Down move between rows (one tab stop for the whole list), Enter opens. */
function rowKeys(e) {
  const rows = [...document.querySelectorAll(".task-row")];
  const at = rows.indexOf(e.target);
  if (at < 0) return;
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[e.key];
  if (to !== undefined) {
    e.preventDefault();
    focusRow(rows, Math.max(0, Math.min(rows.length - 1, to)));
  } else if (e.key === "Enter") {
    e.preventDefault();
    location.assign(`/tasks/${e.target.dataset.taskId}`);
  }
}

function focusRow(rows, k) {
  rows.forEach((r, i) => r.setAttribute("tabindex", i === k ? "0" : "-1"));
  rows[k]?.focus();
}

async function main() {
  const status = document.getElementById("tasks-status");
  const list = document.getElementById("tasks");
  try {
    const me = (await api("GET", "/users/me")).email;
    const projects = await allPages("/projects");
    const tasks = (await Promise.all(projects.map((p) =>
      allPages(`/projects/${p.id}/tasks`).then((ts) => ts.map((t) => ({ ...t, project: p.name })))))).flat();
    await Promise.all(tasks.map(async (t) => {
      const rows = await api("GET", `/tasks/${t.id}/assignments`).catch(() => []);
      t.assignees = [...new Set(rows.filter((a) => a.annotator && a.status !== "removed").map((a) => a.annotator))];
    }));
    const yours = tasks.filter((t) => t.assignees.includes(me)), others = tasks.filter((t) => !t.assignees.includes(me));
    const mine = table("Tasks assigned to you", yours, "tasks");
    mine.hidden = !yours.length;
    list.replaceWith(mine);
    if (others.length) {
      document.getElementById("tasks").after(el("h2", {}, "Other tasks in your projects"),
                                             table("Other tasks", others, "other-tasks"));
    }
    const rows = [...document.querySelectorAll(".task-row")];
    rows.forEach((r) => r.addEventListener("focus", () => rows.forEach((o) => o.setAttribute("tabindex", o === r ? "0" : "-1"))));
    if (rows.length) rows[0].setAttribute("tabindex", "0");
    document.querySelector("main").addEventListener("keydown", rowKeys);
    status.textContent = (yours.length ? `${yours.length} task${yours.length > 1 ? "s" : ""} assigned to you`
      : "No task is assigned to you yet") + ". Double-click a task, or press Enter on it, to open it.";
    document.querySelector("main").dataset.ready = "true";
  } catch (e) {
    status.textContent = e.message;
  }
}

main();
