// `/`: the tasks of the signed-in user's projects, with progress by status.
import { api, el } from "/studio/static/api.js";

async function allPages(path) {
  const out = [];
  for (let page = 0; ; page++) {
    const answer = await api("GET", `${path}${path.includes("?") ? "&" : "?"}page=${page}&pageSize=100`);
    out.push(...answer.items);
    if (!answer.hasNextPage || answer.items.length === 0) return out;
  }
}

function progress(task) {
  const counts = task.itemStatus.actions || {};
  const parts = task.availableActions.map((a) =>
    el("span", { class: "count", style: `--c:${a.color || "#777"}` }, `${a.displayName || a.action} ${counts[a.action] || 0}`));
  parts.push(el("span", { class: "count open" }, `open ${task.itemStatus.remaining}`));
  const bar = el("progress", { max: 100, value: task.progress, "aria-label": `${task.progress}% done` });
  return el("div", { class: "progress" }, bar, ...parts);
}

async function main() {
  const status = document.getElementById("tasks-status");
  const list = document.getElementById("tasks");
  try {
    const projects = await allPages("/projects");
    const tasks = (await Promise.all(projects.map((p) =>
      allPages(`/projects/${p.id}/tasks`).then((ts) => ts.map((t) => ({ ...t, project: p.name })))))).flat();
    for (const task of tasks) {
      list.append(el("li", { class: "task" },
        el("a", { href: `/tasks/${task.id}/studio` }, task.name),
        el("span", { class: "muted" }, ` ${task.project} · ${task.totalItems} items · ${task.singleClass ? "single-class" : "multi-class"}`),
        progress(task)));
    }
    status.textContent = tasks.length ? `${tasks.length} task${tasks.length > 1 ? "s" : ""}` : "No tasks yet.";
  } catch (e) {
    status.textContent = e.message;
  }
}

main();
