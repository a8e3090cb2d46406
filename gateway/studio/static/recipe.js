// `/recipes/{id}`: the label editor. The tree (add, rename, move, delete), each label's colour,
// display name and hotkey, and the attribute definitions of every type (options, multi, range,
// boolean, free text; required; scope). Saving replaces the ontology (PUT …/ontology); when the
// change drops label paths that annotations hold (GET …/label-usage), the page lists them
// first and saves only when confirmed.
import { api, el, toast } from "/studio/static/api.js";
import { $ } from "/studio/static/manage.js";
import { attrRow, readAttrs } from "/studio/static/attrs.js";

const recipeId = $("recipe-page").dataset.recipeId;
const S = { roots: [], selected: null, recipe: null, before: [], dirty: false };
let nextId = 1;

/** Nodes in the page: the stored value kept whole (unknown fields survive), children, a key. */
function toNode(n) {
  return { key: nextId++, value: { ...n.value }, children: (n.children || []).map(toNode) };
}
const toApi = (n) => ({ value: n.value, children: n.children.map(toApi) });

function flat(nodes = S.roots, parent = "", depth = 1, out = []) {
  for (const node of nodes) {
    const path = parent ? `${parent}.${node.value.tag}` : node.value.tag;
    out.push({ node, path, depth, siblings: nodes });
    flat(node.children, path, depth + 1, out);
  }
  return out;
}

const find = (key) => flat().find((r) => r.node.key === key);
const changed = () => { S.dirty = true; $("save-state").textContent = "unsaved changes"; };

function render() {
  const rows = flat();
  if (!rows.some((r) => r.node.key === S.selected)) S.selected = rows[0]?.node.key ?? null;
  $("ltree").replaceChildren(...rows.map((r) => el("li", {
    role: "treeitem", class: "lnode", "aria-level": r.depth, "data-path": r.path, id: `lnode-${r.node.key}`,
    "aria-selected": r.node.key === S.selected ? "true" : "false",
    style: `--depth:${r.depth - 1};--c:${r.node.value.color || "#999999"}`,
    onclick: () => { S.selected = r.node.key; render(); } },
    el("span", { class: "swatch", "aria-hidden": "true" }),
    el("span", { class: "name" }, r.node.value.displayLabel || r.node.value.tag),
    r.node.value.displayData?.hotkey ? el("kbd", {}, r.node.value.displayData.hotkey) : null)));
  $("ltree").setAttribute("aria-activedescendant", S.selected ? `lnode-${S.selected}` : "");
  const sel = S.selected ? find(S.selected) : null;
  $("label-form").hidden = !sel;
  $("no-label").hidden = !!sel;
  if (sel) {
    $("label-path").textContent = sel.path;
    $("label-tag").value = sel.node.value.tag;
    $("label-display").value = sel.node.value.displayLabel || "";
    $("label-color").value = sel.node.value.color || "#999999";
    $("label-hotkey").value = sel.node.value.displayData?.hotkey || "";
  }
}

function unique(siblings, base) {
  let tag = base, k = 2;
  while (siblings.some((n) => n.value.tag === tag)) tag = `${base} ${k++}`;
  return tag;
}

function add(under) {
  const list = under ? under.children : S.roots;
  const node = { key: nextId++, value: { tag: unique(list, "new label"), color: "#4e79a7" }, children: [] };
  list.push(node);
  S.selected = node.key;
  changed();
  render();
  $("label-tag").focus();
  $("label-tag").select();
}

function move(how) {
  const r = S.selected && find(S.selected);
  if (!r) return;
  const at = r.siblings.indexOf(r.node);
  if (how === "up" && at > 0) r.siblings.splice(at - 1, 0, ...r.siblings.splice(at, 1));
  else if (how === "down" && at < r.siblings.length - 1) r.siblings.splice(at + 1, 0, ...r.siblings.splice(at, 1));
  else if (how === "indent" && at > 0) r.siblings[at - 1].children.push(...r.siblings.splice(at, 1));
  else if (how === "outdent") {
    const parent = flat().find((p) => p.node.children === r.siblings);
    if (!parent) return;
    r.siblings.splice(at, 1);
    parent.siblings.splice(parent.siblings.indexOf(parent.node) + 1, 0, r.node);
  } else return;
  changed();
  render();
}

function remove() {
  const r = S.selected && find(S.selected);
  if (!r) return;
  const rows = flat(), k = rows.indexOf(r);
  r.siblings.splice(r.siblings.indexOf(r.node), 1);
  S.selected = (rows[k - 1] || rows[k + 1 + countUnder(r.node)])?.node.key ?? null;
  changed();
  render();
}
const countUnder = (n) => n.children.reduce((s, c) => s + 1 + countUnder(c), 0);

function edit(field, value) {
  const r = S.selected && find(S.selected);
  if (!r) return;
  if (field === "hotkey") r.node.value.displayData = { ...(r.node.value.displayData || {}), hotkey: value };
  else if (field === "displayLabel" && !value) delete r.node.value.displayLabel;
  else r.node.value[field] = value;
  changed();
  render();
}

function treeKeys(e) {
  const rows = flat(), k = rows.findIndex((r) => r.node.key === S.selected);
  const alt = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "outdent", ArrowRight: "indent" }[e.key];
  if (e.altKey && alt) { e.preventDefault(); move(alt); }
  else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const to = rows[Math.max(0, Math.min(rows.length - 1, k + (e.key === "ArrowDown" ? 1 : -1)))];
    if (to) { S.selected = to.node.key; render(); }
  } else if (e.key === "Delete") { e.preventDefault(); remove(); }
}

// --- saving, with what it would orphan shown first ------------------------------------------

function ontology() {
  return { roots: S.roots.map(toApi), attributes: readAttrs($("attrs")) };
}

async function put(body) {
  $("orphans").hidden = true;
  const saved = await api("PUT", `/recipes/${recipeId}/ontology`, body);
  S.before = flat().map((r) => r.path);
  S.dirty = false;
  $("save-state").textContent = `Saved: ${flat().length} labels, ${saved.ontology.metadata.attributes.length} attributes.`;
  $("recipe-page").dataset.saved = String(Number($("recipe-page").dataset.saved || 0) + 1);
}

async function save() {
  $("save-error").textContent = "";
  const body = ontology();
  const now = new Set(flat().map((r) => r.path));
  const lost = S.before.filter((p) => !now.has(p));
  if (lost.length) {
    const q = lost.map((p) => `labels=${encodeURIComponent(p)}`).join("&");
    const usage = await api("GET", `/recipes/${recipeId}/label-usage?${q}`);
    const held = Object.entries(usage.labels).filter(([, n]) => n > 0);
    if (held.length) {
      $("orphan-list").replaceChildren(...held.map(([p, n]) => el("li", { "data-path": p },
        el("strong", {}, p), `: ${n} annotation${n === 1 ? "" : "s"}`)));
      $("orphans").hidden = false;
      $("save-anyway").onclick = () => put(body).catch((e) => { $("save-error").textContent = e.message; });
      $("save-anyway").focus();
      return;
    }
  }
  await put(body);
}

async function main() {
  S.recipe = await api("GET", `/recipes/${recipeId}`);
  const project = await api("GET", `/projects/${S.recipe.projectIds[0]}`).catch(() => null);
  if (project) { $("project-link").textContent = project.name; $("project-link").href = `/projects/${project.id}`; }
  document.title = `${S.recipe.title} · Classifier studio`;
  $("recipe-title").textContent = S.recipe.title;
  S.roots = S.recipe.ontology.roots.map(toNode);
  S.before = flat().map((r) => r.path);
  const attrs = S.recipe.ontology.metadata?.attributes || [];
  $("attrs").replaceChildren(...attrs.map((a) => attrRow(a, changed)));
  $("add-attr").onclick = () => {
    const row = attrRow({ key: "", title: "", type: "options", values: [], optional: true, scope: ["*"] }, changed);
    $("attrs").append(row);
    row.querySelector("input").focus();
    changed();
  };
  $("add-root").onclick = () => add(null);
  $("add-child").onclick = () => add(S.selected ? find(S.selected)?.node : null);
  for (const how of ["up", "down", "indent", "outdent"]) $(how === "up" || how === "down" ? `move-${how}` : how).onclick = () => move(how);
  $("delete-label").onclick = remove;
  $("ltree").addEventListener("keydown", treeKeys);
  $("label-form").addEventListener("submit", (e) => e.preventDefault());
  $("label-tag").addEventListener("change", (e) => edit("tag", e.target.value.trim()));
  $("label-display").addEventListener("change", (e) => edit("displayLabel", e.target.value.trim()));
  $("label-color").addEventListener("input", (e) => edit("color", e.target.value));
  $("label-hotkey").addEventListener("change", (e) => edit("hotkey", e.target.value.trim()));
  $("save").onclick = () => save().catch((e) => { $("save-error").textContent = e.message; });
  $("cancel-save").onclick = () => { $("orphans").hidden = true; $("save").focus(); };
  addEventListener("beforeunload", (e) => { if (S.dirty) e.preventDefault(); });
  render();
  $("recipe-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
