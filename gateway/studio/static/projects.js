// `/projects`: the user's organisations (create one, pick the one whose projects are shown)
// and projects (create one, in an organisation or not; open one: it becomes the current one).
import { api, el, toast } from "/studio/static/api.js";
import { $, allPages, onSubmit, table, when } from "/studio/static/manage.js";

const S = { orgs: [], projects: [], me: null };
const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function roleIn(members) {
  return (members || []).find((m) => m.userId === S.me.id || m.email === S.me.email)?.role || "—";
}

function render() {
  const org = $("org-switch").value;
  localStorage.setItem("clf.org", org);
  const names = new Map(S.orgs.map((o) => [o.id, o.name]));
  const shown = S.projects.filter((p) => !org || p.organizationId === org);
  const rows = shown.map((p) => el("tr", { "data-project-id": p.id },
    el("td", {}, el("a", { href: `/projects/${p.id}` }, el("strong", {}, p.name)),
       p.description ? el("div", { class: "muted" }, p.description) : null),
    el("td", {}, names.get(p.organizationId) || el("span", { class: "muted" }, "none")),
    el("td", {}, el("span", { class: "badge" }, roleIn(p.members))),
    el("td", {}, String((p.members || []).length)),
    el("td", {}, when(p.createdAt))));
  $("projects").replaceChildren(shown.length
    ? table("Your projects", ["Project", "Organisation", "Your role", "Members", "Created"], rows, "project-table")
    : el("p", { class: "muted" }, org ? "No project of yours in this organisation yet." : "No project yet: create one."));
  $("orgs").replaceChildren(...S.orgs.map((o) => el("li", { "data-org-id": o.id },
    el("strong", { class: "grow" }, o.name), el("span", { class: "badge" }, roleIn(o.members)),
    el("span", { class: "muted" }, plural(S.projects.filter((p) => p.organizationId === o.id).length, "project")))));
  $("projects-status").textContent = `${S.projects.length} project${S.projects.length === 1 ? "" : "s"}, ${S.orgs.length} organisation${S.orgs.length === 1 ? "" : "s"}.`;
}

function fillOrgs() {
  const keep = $("org-switch").value || localStorage.getItem("clf.org") || "";
  for (const select of [$("org-switch"), $("project-org")]) {
    const first = select.options[0];
    select.replaceChildren(first, ...S.orgs.map((o) => el("option", { value: o.id }, o.name)));
  }
  $("org-switch").value = S.orgs.some((o) => o.id === keep) ? keep : "";
  $("project-org").value = $("org-switch").value;
}

async function load() {
  [S.orgs, S.projects] = await Promise.all([allPages("/organizations"), allPages("/projects")]);
  fillOrgs();
  render();
}

async function main() {
  S.me = await api("GET", "/users/me");
  $("org-switch").addEventListener("change", () => { $("project-org").value = $("org-switch").value; render(); });
  onSubmit($("new-org"), async (form) => {
    const org = await api("POST", "/organizations", { name: form.get("name").trim() });
    $("new-org").reset();
    await load();
    $("org-switch").value = org.id;
    $("project-org").value = org.id;
    render();
  });
  onSubmit($("new-project"), async (form) => {
    const body = { name: form.get("name").trim(), description: form.get("description").trim() };
    if (form.get("organizationId")) body.organizationId = form.get("organizationId");
    const project = await api("POST", "/projects", body);
    location.assign(`/projects/${project.id}`);
  });
  await load();
  $("projects-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
