// How a task is described on the tasks page and the task page: its type, its classes, its
// due date and its progress by status (a bar in the statuses' colours, and the counts).
import { el } from "/studio/static/api.js";

export const BUILT_IN = new Set(["completed", "discard"]);

export function typeOf(task) {
  return task.allocation === "pulling" ? "pulling" : "allocation";
}

export function classesOf(task) {
  return task.singleClass ? "single-class" : "multi-class";
}

export function dueOf(task) {
  return task.dueDate ? new Date(task.dueDate).toLocaleDateString() : "no due date";
}

/** Why bulk classification is off in this task, or "" when it is on. */
export function bulkOff(task) {
  return task.allocation === "pulling"
    ? "Bulk classification is off in a pulling task: its items wait in a hidden queue and " +
      "are handed out to annotators as they pull them, so no one can select them in bulk."
    : "";
}

/** `itemStatus` ({actions: {status: n}, remaining}) as a stacked bar and its counts. */
export function progress(statuses, itemStatus, total, label = "Progress by status", counted = true) {
  const counts = itemStatus.actions || {};
  const segments = statuses.filter((a) => counts[a.action]).map((a) => el("span", {
    class: "segment", style: `--c:${a.color || "#777"};flex-grow:${counts[a.action]}`,
    title: `${a.displayName || a.action}: ${counts[a.action]}`,
  }));
  if (itemStatus.remaining > 0) {
    segments.push(el("span", { class: "segment open", style: `flex-grow:${itemStatus.remaining}`,
                               title: `no status: ${itemStatus.remaining}` }));
  }
  const done = total - itemStatus.remaining;
  const bar = el("span", { class: "stacked", role: "img",
                           "aria-label": `${done} of ${total} items have a status` }, ...segments);
  const parts = statuses.map((a) =>
    el("span", { class: "count", style: `--c:${a.color || "#777"}`, "data-status": a.action },
       `${a.displayName || a.action} ${counts[a.action] || 0}`));
  parts.push(el("span", { class: "count open", "data-status": "none" }, `open ${itemStatus.remaining}`));
  return el("div", { class: "progress", role: "group", "aria-label": label }, bar, ...(counted ? parts : []));
}
