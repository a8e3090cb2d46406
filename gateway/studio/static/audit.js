// `/projects/{id}/audit`: the project's audit log (managers), filtered by actor, action and
// time (GET /projects/{id}/audit?actor=&action=&since=&until=), a page of 50 at a time; the
// filter lives in the address.
import { api, el, toast } from "/studio/static/api.js";
import { $, table, tryIn, when } from "/studio/static/manage.js";

const projectId = $("audit-page").dataset.projectId;
const PAGE = 50;
const ACTIONS = ["add_member", "change_member_role", "remove_member", "create_recipe", "replace_ontology",
  "create_dataset", "upload_item", "register_item", "create_task", "edit_task", "add_items", "remove_items",
  "redistribute", "reassign", "classify", "set_status", "clear_status", "bulk_classify", "move_on"];
let page = 0;

function query() {
  const f = new FormData($("audit-filters")), q = new URLSearchParams();
  for (const name of ["actor", "action"]) if (f.get(name).trim()) q.set(name, f.get(name).trim());
  for (const name of ["since", "until"]) if (f.get(name)) q.set(name, new Date(f.get(name)).toISOString());
  return q;
}

async function load() {
  const q = query();
  history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
  q.set("page", page);
  q.set("pageSize", PAGE);
  const answer = await tryIn($("audit-error"), () => api("GET", `/projects/${projectId}/audit?${q}`));
  if (!answer) return;
  const rows = answer.items.map((e) => el("tr", { "data-action": e.action },
    el("td", {}, when(e.at)), el("td", {}, e.actor?.email || "?", e.actor?.role ? el("div", { class: "muted" }, e.actor.role) : null),
    el("td", {}, el("code", {}, e.action)), el("td", { class: "muted" }, `${e.method} ${e.path.replace("/api/v1", "")}`),
    el("td", {}, e.resource ? `${e.resource.type} ${e.resource.id}` : "")));
  $("audit").replaceChildren(rows.length ? table("Audit log", ["When", "Who", "Action", "Request", "On"], rows, "audit-table")
    : el("p", { class: "muted" }, "No entry matches."));
  $("audit-total").textContent = `${answer.totalItemsCount} entr${answer.totalItemsCount === 1 ? "y" : "ies"}`;
  const pages = Math.max(1, answer.totalPagesCount);
  $("page-info").textContent = `Page ${page + 1} of ${pages}`;
  $("prev").disabled = page <= 0;
  $("next").disabled = page >= pages - 1;
  $("audit-page").dataset.loaded = String(Number($("audit-page").dataset.loaded || 0) + 1);
}

async function main() {
  const project = await api("GET", `/projects/${projectId}`);
  $("project-name").textContent = project.name;
  document.title = `Audit log of ${project.name} · Classifier studio`;
  $("actors").replaceChildren(...project.members.map((m) => el("option", { value: m.email })));
  $("actions").replaceChildren(...ACTIONS.map((a) => el("option", { value: a })));
  const q = new URLSearchParams(location.search);
  for (const name of ["actor", "action"]) if (q.get(name)) $(`f-${name}`).value = q.get(name);
  $("audit-filters").addEventListener("submit", (e) => { e.preventDefault(); page = 0; load(); });
  $("audit-filters").addEventListener("reset", () => setTimeout(() => { page = 0; load(); }));
  $("prev").onclick = () => { page--; load(); };
  $("next").onclick = () => { page++; load(); };
  await load();
  $("audit-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
