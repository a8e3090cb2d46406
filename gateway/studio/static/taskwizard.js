// `/projects/{id}/tasks/new`: the task wizard. Items (the whole dataset, a filter, or the
// selection made in the dataset browser), assignees and allocation (even, percentages, or
// pulling with batch size and max workload), single- or multi-class, statuses with colours,
// "allow next only on done", due date. The API checks the definition: its refusal is shown
// as it words it, naming the fields.
import { api, el, toast } from "/studio/static/api.js";
import { $, allPages } from "/studio/static/manage.js";

const projectId = $("wizard-page").dataset.projectId;
const q = new URLSearchParams(location.search);
let selection = null;

function statusRow(s, fixed = false) {
  const n = Math.random().toString(36).slice(2, 7);
  return el("div", { class: "status-row", "data-status": s.action || "new" },
    el("label", {}, "Status key", el("input", { type: "text", name: "action", value: s.action || "", readonly: fixed, id: `sa-${n}` })),
    el("label", {}, "Shown as", el("input", { type: "text", name: "displayName", value: s.displayName || "", id: `sd-${n}` })),
    el("label", {}, "Colour", el("input", { type: "color", name: "color", value: s.color || "#9467bd", id: `sc-${n}` })),
    fixed ? null : el("button", { type: "button", class: "danger", onclick: (e) => e.target.closest(".status-row").remove() }, "Remove"));
}

function assignees() {
  return [...document.querySelectorAll("#assignees input:checked")].map((i) => i.value);
}

function renderLoads() {
  const mode = new FormData($("wizard")).get("mode");
  $("loads").hidden = mode !== "percent";
  $("pulling-fields").hidden = mode !== "pulling";
  const people = assignees(), share = people.length ? Math.floor(100 / people.length) : 0;
  const keep = new Map([...document.querySelectorAll("#loads input")].map((i) => [i.dataset.email, i.value]));
  $("loads").replaceChildren(...people.map((p, k) => el("label", { class: "load-row" }, `${p}: `,
    el("input", { type: "number", min: 0, max: 100, step: "any", "data-email": p, "aria-label": `Percentage of ${p}`,
                  value: keep.get(p) ?? String(k === people.length - 1 ? 100 - share * (people.length - 1) : share) }), " %")));
}

function body() {
  const f = new FormData($("wizard"));
  const out = { name: f.get("name").trim(), datasetId: f.get("datasetId"), assignees: assignees(),
                singleClass: f.get("classes") === "single", allowNextOnlyOnDone: !!f.get("allowNextOnlyOnDone") };
  const items = f.get("items");
  if (items === "selection" && selection) out.itemIds = selection.itemIds;
  if (items === "filter") {
    const filter = {};
    if (f.get("dir").trim()) filter.dir = f.get("dir").trim();
    if (f.get("namePrefix").trim()) filter.namePrefix = f.get("namePrefix").trim();
    if (f.get("mimetypePrefix")) filter.mimetypePrefix = f.get("mimetypePrefix");
    out.filter = filter;
  }
  const mode = f.get("mode");
  if (mode === "percent") {
    out.workload = [...document.querySelectorAll("#loads input")].map((i) => ({ assigneeId: i.dataset.email, load: Number(i.value) }));
  }
  if (mode === "pulling") {
    Object.assign(out, { allocation: "pulling", batchSize: Number(f.get("batchSize")), maxBatchWorkload: Number(f.get("maxBatchWorkload")) });
  }
  out.availableActions = [...document.querySelectorAll(".status-row")].map((r) => ({
    action: r.querySelector("[name=action]").value.trim(), displayName: r.querySelector("[name=displayName]").value.trim(),
    color: r.querySelector("[name=color]").value }));
  if (f.get("dueDate")) out.dueDate = new Date(f.get("dueDate") + "T23:59:00").toISOString();
  return out;
}

/** The created task, following a 202's operation until it ends. */
async function created(answer) {
  while (answer && answer.url && !answer.id) {
    const op = await api("GET", answer.url.replace(/^.*\/api\/v1/, ""));
    if (op.status === "rejected") throw new Error(op.error?.message || "The task was refused.");
    if (op.status !== "pending") return op.result.task;
    await new Promise((r) => setTimeout(r, 300));
  }
  return answer;
}

async function submit(e) {
  e.preventDefault();
  $("wizard-error").textContent = "";
  $("create-task").disabled = true;
  $("wizard-state").textContent = "Creating the task…";
  try {
    const task = await created(await api("POST", `/projects/${projectId}/tasks`, body()));
    $("wizard-state").textContent = `Created ${task.name}.`;
    sessionStorage.removeItem("clf.selection");
    location.assign(`/tasks/${task.id}/manage`);
  } catch (err) {
    $("wizard-state").textContent = "";
    $("wizard-error").textContent = err.message;
  } finally {
    $("create-task").disabled = false;
  }
}

async function main() {
  const [project, datasets] = await Promise.all([api("GET", `/projects/${projectId}`), allPages(`/projects/${projectId}/datasets`)]);
  $("project-name").textContent = project.name;
  $("task-dataset").replaceChildren(...datasets.map((d) => el("option", { value: d.id }, d.name)));
  if (q.get("dataset")) $("task-dataset").value = q.get("dataset");
  $("assignees").replaceChildren(el("p", { class: "muted" }, "Assignees (members of the project):"),
    ...project.members.map((m) => el("label", { class: "choice" },
      el("input", { type: "checkbox", value: m.email, name: "assignee", checked: m.role === "annotator" }), `${m.email} (${m.role})`)));
  const stored = JSON.parse(sessionStorage.getItem("clf.selection") || "null");
  if (q.get("selection") && stored?.itemIds?.length) {
    selection = stored;
    $("selection-choice").hidden = false;
    $("selection-text").textContent = `the ${stored.itemIds.length} items selected in the dataset browser`;
    $("selection-choice").querySelector("input").checked = true;
    $("task-dataset").value = stored.datasetId;
  }
  $("statuses").replaceChildren(statusRow({ action: "completed", displayName: "Completed", color: "#2ca02c" }, true),
                                statusRow({ action: "discard", displayName: "Discard", color: "#7f7f7f" }, true));
  $("add-status").onclick = () => { const row = statusRow({}); $("statuses").append(row); row.querySelector("input").focus(); };
  $("wizard").addEventListener("change", (e) => {
    if (e.target.name === "items") $("filter-fields").hidden = e.target.value !== "filter";
    if (e.target.name === "mode" || e.target.name === "assignee") renderLoads();
  });
  $("wizard").addEventListener("submit", submit);
  renderLoads();
  $("wizard-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
