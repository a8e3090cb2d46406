// `/projects/{id}`: a project's overview: its datasets (create one, with a recipe or a new
// one), recipes (create one), tasks with their progress, members and recent activity (the
// latest entries of its audit log, which managers read).
import { api, el, toast } from "/studio/static/api.js";
import { $, allPages, onSubmit, rememberProject, table, when } from "/studio/static/manage.js";
import { classesOf, dueOf, progress, typeOf } from "/studio/static/progress.js";

const projectId = $("project-page").dataset.projectId;

export function describe(entry) {
  const what = entry.action.replaceAll("_", " ");
  return [el("span", { class: "muted" }, when(entry.at)), " ", el("strong", {}, entry.actor?.email || "?"),
          " ", el("code", {}, what), entry.resource ? el("span", { class: "muted" }, ` ${entry.resource.type} ${entry.resource.id}`) : null];
}

async function datasets(recipes) {
  const list = await allPages(`/projects/${projectId}/datasets`);
  const names = new Map(recipes.map((r) => [r.id, r.title]));
  const counts = await Promise.all(list.map((d) =>
    api("GET", `/datasets/${d.id}/items?pageSize=1`).then((a) => a.totalItemsCount).catch(() => "?")));
  $("datasets").replaceChildren(...list.map((d, k) => el("li", { "data-dataset-id": d.id },
    el("a", { class: "grow", href: `/datasets/${d.id}` }, el("strong", {}, d.name)),
    el("span", { class: "muted" }, `${counts[k]} items · recipe `),
    el("a", { href: `/recipes/${d.recipeId}` }, names.get(d.recipeId) || "recipe"))));
  if (!list.length) $("datasets").append(el("li", { class: "muted" }, "No dataset yet."));
}

function recipesList(recipes) {
  const count = (nodes) => nodes.reduce((n, x) => n + 1 + count(x.children || []), 0);
  $("recipes").replaceChildren(...recipes.map((r) => el("li", { "data-recipe-id": r.id },
    el("a", { class: "grow", href: `/recipes/${r.id}` }, el("strong", {}, r.title)),
    el("span", { class: "muted" }, `${count(r.ontology.roots)} labels · ${(r.ontology.metadata?.attributes || []).length} attributes`))));
  if (!recipes.length) $("recipes").append(el("li", { class: "muted" }, "No recipe yet."));
  const select = $("dataset-recipe");
  select.replaceChildren(select.options[0], ...recipes.map((r) => el("option", { value: r.id }, r.title)));
}

async function tasks() {
  const list = await allPages(`/projects/${projectId}/tasks`);
  const rows = list.map((t) => el("tr", { "data-task-id": t.id },
    el("td", {}, el("a", { href: `/tasks/${t.id}/manage` }, el("strong", {}, t.name))),
    el("td", {}, el("span", { class: `badge ${typeOf(t)}` }, typeOf(t)), el("div", { class: "muted" }, classesOf(t))),
    el("td", {}, progress(t.availableActions, t.itemStatus, t.totalItems),
       el("div", { class: "muted" }, `${t.totalItems} items · ${t.progress}% done`)),
    el("td", {}, dueOf(t)),
    el("td", { class: "actions" }, el("a", { href: `/tasks/${t.id}/manage` }, "Manage"), " ",
       el("a", { href: `/tasks/${t.id}/browse` }, "Browse"))));
  $("tasks").replaceChildren(list.length ? table("Tasks", ["Task", "Type", "Progress by status", "Due", ""], rows, "task-table")
    : el("p", { class: "muted" }, "No task yet."));
}

async function activity() {
  try {
    const log = await api("GET", `/projects/${projectId}/audit?pageSize=12`);
    $("activity").replaceChildren(...log.items.map((e) => el("li", {}, ...describe(e))));
    if (!log.items.length) $("activity").append(el("li", { class: "muted" }, "Nothing yet."));
  } catch (e) {
    $("activity").replaceChildren(el("li", { class: "muted" }, e.message));
  }
}

async function main() {
  const [project, me] = await Promise.all([api("GET", `/projects/${projectId}`), api("GET", "/users/me")]);
  rememberProject(project);
  document.title = `${project.name} · Classifier studio`;
  $("project-title").textContent = project.name;
  const mine = project.members.find((m) => m.userId === me.id)?.role;
  $("project-meta").textContent = `${project.description ? project.description + " · " : ""}your role: ${mine} · created ${when(project.createdAt)} by ${project.creator}`;
  $("members").replaceChildren(...project.members.map((m) => el("li", {},
    el("span", { class: "grow" }, m.email), el("span", { class: "badge" }, m.role))));
  const recipes = await allPages(`/projects/${projectId}/recipes`);
  recipesList(recipes);
  await Promise.all([datasets(recipes), tasks(), activity()]);
  onSubmit($("new-dataset"), async (form) => {
    const body = { name: form.get("name").trim() };
    if (form.get("recipeId")) body.recipeId = form.get("recipeId");
    const dataset = await api("POST", `/projects/${projectId}/datasets`, body);
    location.assign(`/datasets/${dataset.id}`);
  });
  onSubmit($("new-recipe"), async (form) => {
    const recipe = await api("POST", `/projects/${projectId}/recipes`, { title: form.get("title").trim() });
    location.assign(`/recipes/${recipe.id}`);
  });
  $("project-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
