// `/tasks/{id}/manage`: a task for its managers. Progress by status and by assignee with
// items per hour, a chart of statuses set over time (inline SVG, from the audit log), the live
// feed's events as they come (SSE) and a refresh every few seconds; rename, statuses added and
// removed, items added and removed, assignments redistributed or reassigned (the API's
// refusals shown in its words); the task's items exported as Dataloop JSON with progress.
import { api, el, toast } from "/studio/static/api.js";
import { cumulative } from "/studio/static/chart.js";
import { $, command, onSubmit, table, tryIn, when } from "/studio/static/manage.js";
import { BUILT_IN, classesOf, dueOf, progress, typeOf } from "/studio/static/progress.js";

const taskId = $("manage-page").dataset.taskId;
const S = { task: null, assignments: [], members: [], audit: [], refreshes: 0, itemIds: new Set() };
const HOUR = 3_600_000;

/** The task's items worked on, from the audit log: each item's first classify or status
 * set in this task, with who and when (at most the latest 1,000 of each since the task began). */
async function decisions(task) {
  const since = encodeURIComponent(task.createdAt);
  const read = (action) => api("GET", `/projects/${task.projectId}/audit?action=${action}&since=${since}&pageSize=1000`)
    .then((a) => a.items).catch(() => []);
  const [set, classified] = await Promise.all([read("set_status"), read("classify")]);
  const first = new Map();
  for (const e of [...set, ...classified].sort((a, b) => a.at.localeCompare(b.at))) {
    const m = e.path.match(/\/tasks\/([^/]+)\/items\/([^/]+)\/status$/) || e.path.match(/\/items\/([^/]+)\/annotations$/);
    const item = m && (m.length === 3 ? (m[1] === taskId ? m[2] : null) : m[1]);
    if (item && S.itemIds.has(item) && !first.has(item)) first.set(item, e);
  }
  return [...first.values()];
}

function renderProgress() {
  const t = S.task;
  $("by-status").replaceChildren(progress(t.availableActions, t.itemStatus, t.totalItems));
  const now = Date.now();
  const perHour = (email) => S.audit.filter((e) => e.actor?.email === email && now - Date.parse(e.at) < HOUR).length;
  const people = S.assignments.filter((a) => a.annotator);
  $("by-assignee").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Assignee"), el("th", { scope: "col" }, "Items"),
      ...t.availableActions.map((s) => el("th", { scope: "col" }, s.displayName || s.action)),
      el("th", { scope: "col" }, "Open"), el("th", { scope: "col" }, "Items per hour"))),
    el("tbody", {}, ...people.map((a) => el("tr", { "data-assignee": a.annotator },
      el("th", { scope: "row" }, a.annotator, a.status === "removed" ? el("span", { class: "muted" }, " (removed)") : null),
      el("td", {}, String(a.totalItems)),
      ...t.availableActions.map((s) => el("td", { "data-status": s.action }, String(a.itemStatus.actions?.[s.action] || 0))),
      el("td", { "data-open": "" }, String(a.itemStatus.remaining)),
      el("td", { "data-rate": "" }, String(perHour(a.annotator)))))));
  const done = t.totalItems - t.itemStatus.remaining;
  $("by-status").dataset.done = String(done);
  $("chart").replaceChildren(cumulative(S.audit.map((e) => Date.parse(e.at)), t.totalItems, now, "Items worked over time"));
}

const openOf = (a) => `${a.itemStatus.remaining} open of ${a.totalItems}`;

/** The open counts follow each refresh; the rows (and what is typed in them) stay. */
function refreshOpenCounts() {
  for (const a of S.assignments) {
    const cell = document.querySelector(`[data-open-of="${a.id}"]`);
    if (cell) cell.textContent = openOf(a);
  }
}

function renderAssignments() {
  const rank = { annotator: 0, manager: 1, owner: 2 };  // annotators offered first
  const others = [...S.members].sort((a, b) => rank[a.role] - rank[b.role]).map((m) => m.email);
  const rows = S.assignments.filter((a) => a.annotator && a.status !== "removed").map((a) => {
    const to = el("select", { "aria-label": `Reassign ${a.annotator}'s assignment to` },
      ...others.filter((e) => e !== a.annotator).map((e) => el("option", { value: e }, e)));
    const spread = el("input", { type: "text", "aria-label": `Redistribute ${a.annotator}'s open items as email=percent, …`,
      value: others.filter((e) => e !== a.annotator && S.assignments.some((x) => x.annotator === e)).map((e, k, all) =>
        `${e}=${k === all.length - 1 ? 100 - Math.floor(100 / all.length) * (all.length - 1) : Math.floor(100 / all.length)}`).join(", "),
      size: 26 });
    return el("tr", { "data-assignment": a.annotator },
      el("th", { scope: "row" }, a.annotator), el("td", { "data-open-of": a.id }, openOf(a)),
      el("td", {}, spread, el("button", { type: "button", onclick: () => tryIn($("assign-error"), async () => {
        const workload = spread.value.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
          const [assigneeId, load] = p.split("=");
          return { assigneeId: assigneeId.trim(), load: Number(load) };
        });
        await command("POST", `/assignments/${a.id}/redistribute`, { workload });
        $("assign-ok").textContent = `${a.annotator}'s open items redistributed.`;
        await refresh(true);
      }) }, "Redistribute")),
      el("td", {}, to, el("button", { type: "button", onclick: () => tryIn($("assign-error"), async () => {
        await command("POST", `/assignments/${a.id}/reassign`, { annotator: to.value });
        $("assign-ok").textContent = `${a.annotator}'s assignment given to ${to.value}.`;
        await refresh(true);
      }) }, "Reassign")));
  });
  $("assignments").replaceChildren(rows.length ? table("Assignments", ["Assignee", "Open", "Redistribute (email=percent, …)", "Reassign to"], rows, "assignment-table")
    : el("p", { class: "muted" }, S.task.allocation === "pulling" ? "A pulling task hands out batches as annotators pull them." : "No assignment."));
}

function renderEdit() {
  $("remove-status-key").replaceChildren(...S.task.availableActions.map((s) =>
    el("option", { value: s.action }, `${s.displayName || s.action}${BUILT_IN.has(s.action) ? "" : " (custom)"}`)));
}

async function refresh(full = false) {
  const [task, assignments] = await Promise.all([api("GET", `/tasks/${taskId}`), api("GET", `/tasks/${taskId}/assignments`)]);
  Object.assign(S, { task, assignments });
  if (full || !S.itemIds.size) S.itemIds = new Set((await api("GET", `/tasks/${taskId}/items/ids`)).ids);
  S.audit = await decisions(task);
  renderProgress();
  const key = assignments.filter((a) => a.annotator && a.status !== "removed").map((a) => a.id).join();
  if (full || key !== S.assignmentKey) { renderAssignments(); renderEdit(); } else refreshOpenCounts();
  S.assignmentKey = key;
  $("manage-page").dataset.refreshes = String(++S.refreshes);
}

function feed() {
  const source = new EventSource(`/api/v1/tasks/${taskId}/feed`, { withCredentials: true });
  const show = (type, body) => {
    const li = el("li", { "data-event": type }, el("span", { class: "muted" }, new Date().toLocaleTimeString()), " ",
      el("code", {}, type), " ", describe(type, body));
    $("feed").prepend(li);
    while ($("feed").children.length > 50) $("feed").lastChild.remove();
  };
  for (const type of ["snapshot", "MovedOn", "QueueChanged", "LeasesGranted", "ItemsReturned", "BulkProgressed", "BulkCompleted", "BulkUndone"]) {
    source.addEventListener(type, (e) => {
      const body = JSON.parse(e.data || "{}");
      show(type, body);
      if (type !== "snapshot") refresh().catch(() => null);
    });
  }
  source.onopen = () => { $("live").textContent = "· live"; };
  source.onerror = () => { $("live").textContent = "· reconnecting…"; };
}

function describe(type, b) {
  if (type === "snapshot") return "connected: the task's progress refreshes as work is done";
  if (type.startsWith("Bulk")) return `bulk ${b.bulkId || ""} ${b.done ?? ""}${b.total ? "/" + b.total : ""}`;
  return b.annotator ? `for ${b.annotator}` : "";
}

async function exportTask() {
  const box = $("export-progress"), bar = $("export-bar"), text = $("export-text");
  $("export-error").textContent = "";
  box.hidden = false;
  try {
    const { ids } = await api("GET", `/tasks/${taskId}/items/ids`);
    bar.max = ids.length || 1;
    bar.value = 0;
    const out = new Array(ids.length);
    let next = 0, done = 0;
    const worker = async () => {
      while (next < ids.length) {
        const k = next++;
        out[k] = await api("GET", `/items/${ids[k]}/annotations`);
        bar.value = ++done;
        text.textContent = `${done} of ${ids.length} items`;
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    const name = `${S.task.name}-export.json`;
    const link = Object.assign(document.createElement("a"), {
      href: URL.createObjectURL(new Blob([JSON.stringify(out, null, 2)], { type: "application/json" })), download: name });
    document.body.append(link);
    link.click();
    link.remove();
    text.textContent = `Done: ${name}, ${ids.length} items.`;
    box.dataset.done = "true";
  } catch (e) {
    box.hidden = true;
    $("export-error").textContent = e.message;
  }
}

async function main() {
  await refresh();
  const project = await api("GET", `/projects/${S.task.projectId}`);
  S.members = project.members;
  $("project-link").textContent = project.name;
  $("project-link").href = `/projects/${project.id}`;
  document.title = `${S.task.name} · Classifier studio`;
  $("task-title").textContent = S.task.name;
  $("rename-name").value = S.task.name;
  $("task-meta").replaceChildren(el("span", { class: `badge ${typeOf(S.task)}` }, typeOf(S.task)),
    ` ${classesOf(S.task)} · ${S.task.totalItems} items · due: ${dueOf(S.task)} · by ${S.task.creator}, ${when(S.task.createdAt)}`);
  renderAssignments();
  renderEdit();
  onSubmit($("rename"), async (f) => {
    const task = await command("PATCH", `/tasks/${taskId}`, { name: f.get("name").trim() });
    $("task-title").textContent = task.name;
    return `Renamed ${task.name}.`;
  });
  onSubmit($("add-status"), async (f) => {
    await command("PATCH", `/tasks/${taskId}`, { addStatuses: [{ action: f.get("action").trim(), displayName: f.get("displayName").trim(), color: f.get("color") }] });
    await refresh(true);
    $("add-status").reset();
    return "Status added.";
  });
  onSubmit($("remove-status"), async (f) => {
    await command("PATCH", `/tasks/${taskId}`, { removeStatuses: [f.get("action")] });
    await refresh(true);
    return "Status removed (items holding it keep it).";
  });
  let how = "add";
  $("items-form").addEventListener("click", (e) => { if (e.target.name === "how") how = e.target.value; });
  onSubmit($("items-form"), async (f) => {
    const filter = {};
    if (f.get("dir").trim()) filter.dir = f.get("dir").trim();
    if (f.get("namePrefix").trim()) filter.namePrefix = f.get("namePrefix").trim();
    const task = await command("POST", `/tasks/${taskId}/items${how === "remove" ? "/remove" : ""}`, { filter });
    await refresh(true);
    const s = task.summary || {};
    return how === "add" ? `${s.added ?? "?"} items added.`
      : `${s.removed ?? "?"} items removed${s.notRemovedCount ? `; ${s.notRemovedCount} kept because they hold a status` : ""}.`;
  });
  $("export-task").onclick = exportTask;
  feed();
  setInterval(() => { if (!document.hidden) refresh().catch(() => null); }, 2500);
  $("manage-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
