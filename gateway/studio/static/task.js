// `/tasks/{id}`: a task's progress by status and by assignee, its statuses (custom ones in
// their colours), the way into its browser and its studio, and why bulk work is off in a
// pulling task.
import { api, el, toast } from "/studio/static/api.js";
import { BUILT_IN, bulkOff, classesOf, dueOf, progress, typeOf } from "/studio/static/progress.js";

const $ = (id) => document.getElementById(id);
const taskId = $("task").dataset.taskId;

function assigneeRow(task, a) {
  const counts = a.itemStatus.actions || {};
  return el("tr", { "data-assignee": a.annotator },
    el("th", { scope: "row" }, a.annotator, a.status === "removed" ? el("span", { class: "muted" }, " (removed)") : null),
    el("td", {}, String(a.totalItems)),
    ...task.availableActions.map((s) => el("td", {}, String(counts[s.action] || 0))),
    el("td", {}, String(a.itemStatus.remaining)),
    el("td", {}, progress(task.availableActions, a.itemStatus, a.totalItems, `Progress of ${a.annotator}`, false)));
}

function renderAssignees(task, assignments) {
  const people = assignments.filter((a) => a.annotator);
  $("by-assignee").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Assignee"), el("th", { scope: "col" }, "Items"),
      ...task.availableActions.map((s) => el("th", { scope: "col" }, s.displayName || s.action)),
      el("th", { scope: "col" }, "Open"), el("th", { scope: "col" }, "Progress"))),
    el("tbody", {}, ...people.map((a) => assigneeRow(task, a))));
  if (!people.length) $("by-assignee").after(el("p", { class: "muted" }, "Nobody has pulled items yet."));
}

function renderStatuses(task) {
  $("statuses").replaceChildren(...task.availableActions.map((s) => el("li", {
    class: "status-entry", style: `--c:${s.color || "#777"}`, "data-status": s.action },
    el("span", { class: "swatch", "aria-hidden": "true" }),
    el("strong", {}, s.displayName || s.action), el("code", {}, s.action),
    BUILT_IN.has(s.action) ? null : el("span", { class: "badge custom" }, "custom"))));
}

async function main() {
  // the gateway builds a task's browse index on first use (seconds for a large task): start
  // it now, so "Browse task" finds it ready; the answer itself is not needed
  api("GET", `/tasks/${taskId}/items?pageSize=1`).catch(() => {});
  const task = await api("GET", `/tasks/${taskId}`);
  const assignments = await api("GET", `/tasks/${taskId}/assignments`);
  document.title = `${task.name} · Classifier studio`;
  $("task-title").textContent = task.name;
  const queue = task.queue ? ` · ${task.queue.remaining} waiting in the queue` : "";
  $("task-meta").replaceChildren(el("span", { class: `badge ${typeOf(task)}` }, typeOf(task)),
    ` ${classesOf(task)} · ${task.totalItems} items · due: ${dueOf(task)} · by ${task.creator}${queue}`);
  const off = bulkOff(task);
  $("bulk-off").textContent = off;
  $("bulk-off").hidden = !off;
  $("by-status").replaceChildren(progress(task.availableActions, task.itemStatus, task.totalItems));
  renderAssignees(task, assignments);
  renderStatuses(task);
  $("task").dataset.ready = "true";
  $("browse").focus();
}

main().catch((e) => toast(e.message));
