// `/tasks/{id}/manage`: a task for its managers. Progress by status and by assignee with
// items per hour, a chart of items worked over time (inline SVG), and the task's live activity
// (`/tasks/{id}/activity`, SSE): each annotator's status change moves the counts as it comes,
// classifications the items per hour and the chart; a burst (a bulk), a change of the task's
// items or assignments, a reconnection or a slow safety refresh re-read the task. Rename,
// statuses added and removed, items added and removed, assignments redistributed or reassigned
// (the API's refusals shown in its words); the task's items exported as Dataloop JSON, which
// the server streams.
import { api, el, toast } from "/studio/static/api.js";
import { cumulative } from "/studio/static/chart.js";
import { exportTo } from "/studio/static/exporter.js";
import { $, command, onSubmit, table, tryIn, when } from "/studio/static/manage.js";
import { BUILT_IN, classesOf, dueOf, progress, typeOf } from "/studio/static/progress.js";

const taskId = $("manage-page").dataset.taskId;
const S = { task: null, assignments: [], members: [], worked: new Map(), refreshes: 0, applied: 0, itemIds: new Set() };
const HOUR = 3_600_000, SAFETY_REFRESH_MS = 30_000;

/** The task's items worked on, from the audit log: each item's first classify or status
 * set in this task, with who and when (at most the latest 1,000 of each since the task began).
 * The live activity adds the items worked since (`worked`), which the log may not hold yet. */
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

/** An item first worked on by `email` at `at` (ms), unless it was worked on before. */
function worked(itemId, email, at) {
  const known = S.worked.get(itemId);
  if (!known || at < known.at) S.worked.set(itemId, { email, at });
}

function renderProgress() {
  const t = S.task;
  $("by-status").replaceChildren(progress(t.availableActions, t.itemStatus, t.totalItems));
  const now = Date.now();
  const work = [...S.worked].filter(([item]) => S.itemIds.has(item)).map(([, w]) => w);
  const perHour = (email) => work.filter((w) => w.email === email && now - w.at < HOUR).length;
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
  $("by-status").dataset.applied = String(S.applied);
  $("chart").replaceChildren(cumulative(work.map((w) => w.at).sort((a, b) => a - b), t.totalItems, now, "Items worked over time"));
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
  const pulling = S.task.allocation === "pulling"
    ? el("p", { class: "muted" }, "A pulling task hands out batches as annotators pull them: an assignment holds what its annotator pulled.") : null;
  $("assignments").replaceChildren(...[pulling, rows.length
    ? table("Assignments", ["Assignee", "Open", "Redistribute (email=percent, …)", "Reassign to"], rows, "assignment-table")
    : el("p", { class: "muted" }, pulling ? "Nobody has pulled a batch yet." : "No assignment.")].filter(Boolean));
}

function renderEdit() {
  $("remove-status-key").replaceChildren(...S.task.availableActions.map((s) =>
    el("option", { value: s.action }, `${s.displayName || s.action}${BUILT_IN.has(s.action) ? "" : " (custom)"}`)));
}

async function refresh(full = false) {
  const [task, assignments] = await Promise.all([api("GET", `/tasks/${taskId}`), api("GET", `/tasks/${taskId}/assignments`)]);
  Object.assign(S, { task, assignments });
  if (full || !S.itemIds.size) S.itemIds = new Set((await api("GET", `/tasks/${taskId}/items/ids`)).ids);
  for (const e of await decisions(task)) {
    const m = e.path.match(/\/items\/([^/]+)\/(?:status|annotations)$/);
    worked(m[1], e.actor?.email, Date.parse(e.at));
  }
  renderProgress();
  const key = assignments.filter((a) => a.annotator && a.status !== "removed").map((a) => a.id).join();
  if (full || key !== S.assignmentKey) { renderAssignments(); renderEdit(); } else refreshOpenCounts();
  S.assignmentKey = key;
  $("manage-page").dataset.refreshes = String(++S.refreshes);
}

/** One re-read at a time; asked again meanwhile, one more after it. Status changes that came
 * while a read was out may or may not be in its answer (the counts are written as the event
 * goes out): one more read a moment later settles them. */
let reading = null, again = false, changedMeanwhile = false;
function reread(full = false) {
  if (reading) { again = true; return reading; }
  reading = refresh(full).catch(() => null).finally(() => {
    reading = null;
    if (again) { again = false; reread(); } else if (changedMeanwhile) { changedMeanwhile = false; setTimeout(reread, 1000); }
  });
  return reading;
}

/** A status change moves the task's and its assignment's counts: `previous` (none: open) loses
 * an item, `status` (none: open) gains it. */
function applyStatus(b) {
  if (reading) changedMeanwhile = true;
  const counts = [S.task.itemStatus, S.assignments.find((a) => a.id === b.assignmentId)?.itemStatus].filter(Boolean);
  for (const c of counts) {
    c.actions = c.actions || {};
    if (b.previous) c.actions[b.previous] = Math.max(0, (c.actions[b.previous] || 0) - 1); else c.remaining -= 1;
    if (b.status) c.actions[b.status] = (c.actions[b.status] || 0) + 1; else c.remaining += 1;
  }
  S.task.itemStatus.completed = S.task.itemStatus.actions.completed || 0;
  if (b.status) worked(b.itemId, b.actor?.email, Date.parse(b.occurredAt));
  S.applied += 1;
  renderProgress();
  refreshOpenCounts();
}

const NAMES = new Map();
/** An item's name, read once (the facts carry its id). */
function nameOf(itemId, into) {
  if (!NAMES.has(itemId)) NAMES.set(itemId, api("GET", `/items/${itemId}`).then((i) => i.name).catch(() => itemId));
  into.textContent = itemId;
  NAMES.get(itemId).then((name) => { into.textContent = name; });
  return into;
}

const TYPES = ["snapshot", "ItemStatusChanged", "ItemClassified", "AnnotationUpdated", "TaskChanged", "ItemsPulled",
  "BulkProgressed", "BulkCompleted", "BulkUndone", "Resync"];

function activity() {
  const source = new EventSource(`/api/v1/tasks/${taskId}/activity`, { withCredentials: true });
  for (const type of TYPES) {
    source.addEventListener(type, (e) => {
      const body = JSON.parse(e.data || "{}");
      show(type, body);
      if (type === "ItemStatusChanged") applyStatus(body);
      else if (type === "ItemClassified" || type === "AnnotationUpdated") {
        worked(body.itemId, body.actor?.email, Date.parse(body.occurredAt));
        renderProgress();
      } else if (type === "TaskChanged") reread(true);
      else if (type !== "BulkProgressed") reread();  // snapshot, a pull, a bulk's end, a burst
    });
  }
  source.onopen = () => { $("live").textContent = "· live"; };
  source.onerror = () => { $("live").textContent = "· reconnecting…"; };
}

/** The activity list, newest first: one line per fact, a bulk's progress on one line. */
function show(type, b) {
  const key = type.startsWith("Bulk") ? `bulk-${b.bulkId}` : null;
  const old = key && $("feed").querySelector(`[data-key="${key}"]`);
  const li = el("li", { "data-event": type, "data-key": key || "" },
    el("span", { class: "muted" }, new Date(b.occurredAt || Date.now()).toLocaleTimeString()), " ",
    el("code", {}, type), " ", ...describe(type, b));
  if (old) old.replaceWith(li); else $("feed").prepend(li);
  while ($("feed").children.length > 50) $("feed").lastChild.remove();
}

function describe(type, b) {
  const who = b.actor?.email || "";
  const item = () => nameOf(b.itemId, el("span", { class: "item-name" }));
  switch (type) {
    case "snapshot": return ["connected: progress moves as the task's annotators work"];
    case "ItemStatusChanged": return b.status ? [`${who} set `, el("strong", {}, b.status), " on ", item()]
      : [`${who} cleared ${b.previous || "the status"} on `, item()];
    case "ItemClassified": return [`${who} classified `, item(), " as ", el("strong", {}, b.annotation?.label || "?")];
    case "AnnotationUpdated": return [`${who} changed a class on `, item(), " to ", el("strong", {}, b.annotation?.label || "?")];
    case "TaskChanged": return [`${who}: ${b.change}${b.summary && Object.keys(b.summary).length ? " " + summary(b.summary) : ""}`];
    case "ItemsPulled": return [`${who} pulled ${b.itemIds?.length ?? 0} items`];
    case "Resync": return [`${b.facts} changes at once (a bulk?): progress re-read`];
    default: return [`bulk by ${who}: ${b.done ?? b.total ?? ""}${b.done !== undefined && b.total ? " of " + b.total : ""}${type === "BulkCompleted" ? " done" : ""}${type === "BulkUndone" ? " undone" : ""}`];
  }
}

/** A TaskChanged summary in words: an assignment by its annotator, not by its id. */
const annotatorOf = (id) => S.assignments.find((a) => a.id === id)?.annotator || "an assignment";
const summary = (s) => Object.entries(s).filter(([, v]) => typeof v !== "object")
  .map(([k, v]) => /^(from|to)Assignment$/.test(k) ? `${k.slice(0, -"Assignment".length)} ${annotatorOf(v)}`
    : `${k.replace(/[A-Z]/g, (c) => " " + c.toLowerCase())} ${v}`).join(", ");

/** The task's items from the server, streamed (`GET /tasks/{id}/export`): Dataloop JSON with each
 * item's annotations and its status in this task, counted as they arrive against X-Item-Count. */
function exportTask(format) {
  return exportTo(`/tasks/${taskId}/export?format=${format}`, `${S.task.name}-export.${format}`, S.task.totalItems);
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
  $("export-task").onclick = () => exportTask("json");
  $("export-task-zip").onclick = () => exportTask("zip");
  activity();
  setInterval(() => { if (!document.hidden) reread(); }, SAFETY_REFRESH_MS);
  $("manage-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
