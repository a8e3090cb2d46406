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

async function assigned(task, me) {
  const rows = await api("GET", `/tasks/${task.id}/assignments`).catch(() => []);
  return rows.some((a) => a.annotator === me);
}

function row(task) {
  return el("li", { class: "task" },
    el("a", { href: `/tasks/${task.id}/studio` }, task.name),
    el("span", { class: "muted" }, ` ${task.project} · ${task.totalItems} items · ${task.singleClass ? "single-class" : "multi-class"}`),
    progress(task));
}

async function main() {
  const status = document.getElementById("tasks-status");
  const list = document.getElementById("tasks");
  try {
    const me = (await api("GET", "/users/me")).email;
    const projects = await allPages("/projects");
    const tasks = (await Promise.all(projects.map((p) =>
      allPages(`/projects/${p.id}/tasks`).then((ts) => ts.map((t) => ({ ...t, project: p.name })))))).flat();
    const mine = await Promise.all(tasks.map((t) => assigned(t, me)));
    const yours = tasks.filter((_, i) => mine[i]), others = tasks.filter((_, i) => !mine[i]);
    list.append(...yours.map(row));
    if (others.length) {
      list.after(el("h2", {}, "Other tasks in your projects"),
                 el("ul", { class: "tasks", "aria-label": "Other tasks" }, ...others.map(row)));
    }
    status.textContent = yours.length ? `${yours.length} task${yours.length > 1 ? "s" : ""} assigned to you`
      : "No task is assigned to you yet.";
  } catch (e) {
    status.textContent = e.message;
  }
}

main();
