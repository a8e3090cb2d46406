// `/tasks/{id}/browse`: the task's items as thumbnails, filtered (status in the task, label,
// assignee, annotated, name, folder) with totals that follow; thumbnail size and items per page
// kept in the user's preferences; a multi-selection by mouse and keyboard (selection.js); the
// bulk classification dialog (bulk.js). Filters and page live in the address, so a reload or
// a link shows the same items.
import { api, el, toast } from "/studio/static/api.js";
import { BulkDialog } from "/studio/static/bulk.js";
import { flatten } from "/studio/static/labels.js";
import { bulkOff } from "/studio/static/progress.js";
import { Selection, columnsOf, step } from "/studio/static/selection.js";
import { SIZES, ViewPrefs, tile } from "/studio/static/tiles.js";

const $ = (id) => document.getElementById(id);
const taskId = $("browse").dataset.taskId;
const FILTERS = ["status", "label", "assignee", "annotated", "name", "dir"];
const prefs = new ViewPrefs();
const S = { task: null, colours: new Map(), statuses: new Map(), prefs: prefs.values,
            page: 0, items: [], total: 0, pages: 0, focus: 0, gen: 0, offenders: new Set(), reveal: null };
const sel = new Selection(idsOf, renderSelection);
let bulk;

// --- the filter, in the form and in the address ------------------------------------------

function filterValues() {
  const out = {};
  for (const name of FILTERS) {
    const v = $(`f-${name}`).value.trim();
    if (v) out[name] = v;
  }
  return out;
}

function query(extra = {}) {
  const q = new URLSearchParams({ ...filterValues(), sort: $("f-sort").value, ...extra });
  return q.toString();
}

/** The filter as a bulk's `filter` (the same fields; annotated as a boolean). */
function bulkFilter() {
  const f = filterValues();
  if (f.annotated) f.annotated = f.annotated === "true";
  return f;
}

function remember() {
  const q = new URLSearchParams({ ...filterValues(), ...(S.page ? { page: S.page } : {}) });
  if ($("f-sort").value !== "name") q.set("sort", $("f-sort").value);
  history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
}

function restore() {
  const q = new URLSearchParams(location.search);
  for (const name of [...FILTERS, "sort"]) if (q.has(name)) $(`f-${name}`).value = q.get(name);
  S.page = Math.max(0, Number(q.get("page")) || 0);
}

async function idsOf(q) {
  return (await api("GET", `/tasks/${taskId}/items/ids?${q}`)).ids;
}

// --- loading and showing a page ----------------------------------------------------------

async function load() {
  const gen = ++S.gen;
  $("grid").setAttribute("aria-busy", "true");
  const answer = await api("GET", `/tasks/${taskId}/items?${query({ page: S.page, pageSize: S.prefs.pageSize })}`);
  if (gen !== S.gen) return;
  if (answer.items.length === 0 && S.page > 0 && answer.totalItemsCount > 0) {
    S.page = Math.max(0, answer.totalPagesCount - 1);  // past the end (fewer items now)
    return load();
  }
  Object.assign(S, { items: answer.items, total: answer.totalItemsCount, pages: answer.totalPagesCount });
  if (sel.all) sel.all.total = S.total;
  S.focus = Math.min(S.focus, Math.max(S.items.length - 1, 0));
  render();
  remember();
  $("grid").removeAttribute("aria-busy");
  $("browse").dataset.loaded = String(Number($("browse").dataset.loaded || 0) + 1);
}

function render() {
  const grid = $("grid");
  grid.replaceChildren(...S.items.map((item, k) => tile(item, {
    focused: k === S.focus, selected: sel.has(item.id), offender: S.offenders.has(item.id),
    colours: S.colours, status: item.status ? S.statuses.get(item.status) : null })));
  $("empty").hidden = S.items.length > 0;
  const n = S.total.toLocaleString("en");
  $("total").textContent = `${n} item${S.total === 1 ? "" : "s"} match${S.total === 1 ? "es" : ""}`;
  $("select-all").textContent = `Select all ${n} matching`;
  $("select-all").disabled = S.total === 0;
  $("page-info").textContent = S.pages ? `Page ${S.page + 1} of ${S.pages}` : "";
  $("prev").disabled = S.page <= 0;
  $("next").disabled = S.page >= S.pages - 1;
  grid.setAttribute("tabindex", S.items.length ? "-1" : "0");  // the tiles carry the tab stop
  if (S.reveal) {
    const at = S.items.findIndex((i) => i.id === S.reveal);
    S.reveal = null;
    if (at >= 0) focusTile(at);
  }
}

function renderSelection() {
  for (const node of $("grid").children) node.setAttribute("aria-selected", sel.has(node.dataset.id) ? "true" : "false");
  $("sel-count").textContent = sel.describe();
  $("browse").dataset.selected = String(sel.count);
  $("classify").disabled = !!bulkOff(S.task || {}) || sel.count === 0;
}

function focusTile(k, scroll = true) {
  const tiles = $("grid").children;
  if (!tiles.length) return;
  S.focus = Math.max(0, Math.min(tiles.length - 1, k));
  [...tiles].forEach((t, i) => t.setAttribute("tabindex", i === S.focus ? "0" : "-1"));
  tiles[S.focus].focus({ preventScroll: !scroll });
}

// --- mouse and keyboard on the grid -----------------------------------------------------

const order = () => S.items.map((i) => i.id);
const studio = (id) => location.assign(`/tasks/${taskId}/studio?item=${encodeURIComponent(id)}`);
const act = (p) => p.catch((e) => toast(e.message));

function onClick(e) {
  const node = e.target.closest("[role=option]");
  if (!node) return;
  const id = node.dataset.id;
  focusTile([...$("grid").children].indexOf(node), false);
  if (e.shiftKey) act(sel.range(order(), id, e.ctrlKey || e.metaKey));
  else if (e.ctrlKey || e.metaKey) act(sel.toggle(id));
  else act(sel.only(id));
}

function onKey(e) {
  if (!S.items.length) return;
  const n = S.items.length;
  const ctrl = e.ctrlKey || e.metaKey;
  const to = step(e.key, S.focus, n, columnsOf($("grid")));
  if (to !== null) {
    e.preventDefault();
    const from = S.items[S.focus].id;
    focusTile(to);
    if (e.shiftKey) {
      if (sel.anchor === null) sel.anchor = from;
      act(sel.range(order(), S.items[to].id, true));
    }
  } else if (e.key === " ") {
    e.preventDefault();
    act(sel.toggle(S.items[S.focus].id));
  } else if (ctrl && e.key.toLowerCase() === "a") {
    e.preventDefault();
    act(sel.add(order()));
  } else if (e.key === "Enter") {
    e.preventDefault();
    studio(S.items[S.focus].id);
  } else if (e.key === "Escape") {
    sel.clear();
  } else if (e.key === "PageDown" || e.key === "PageUp") {
    e.preventDefault();
    turn(e.key === "PageDown" ? 1 : -1);
  }
}

function turn(by) {
  const page = Math.max(0, Math.min(S.pages - 1, S.page + by));
  if (page === S.page) return;
  S.page = page;
  S.focus = 0;
  act(load().then(() => focusTile(0)));
}

// --- offenders of a refusal, shown in the grid ---------------------------------------------

/** Put `id` on screen: its name as the filter, the tile focused and marked. */
async function reveal(id, ids) {
  ids.forEach((x) => S.offenders.add(x));
  const item = await api("GET", `/items/${id}`);
  for (const name of FILTERS) $(`f-${name}`).value = "";
  $("f-name").value = item.name;
  S.page = 0;
  S.reveal = id;
  await load();
}

// --- start --------------------------------------------------------------------------------

function fill(select, options) {
  select.append(...options.map(([value, text, colour]) => el("option", { value, style: colour ? `--c:${colour}` : undefined }, text)));
}

function wire() {
  const grid = $("grid");
  grid.addEventListener("click", onClick);
  grid.addEventListener("dblclick", (e) => { const t = e.target.closest("[role=option]"); if (t) studio(t.dataset.id); });
  grid.addEventListener("keydown", onKey);
  grid.addEventListener("focus", (e) => { if (e.target === grid) focusTile(S.focus); });
  const refilter = () => { S.page = 0; S.focus = 0; if (sel.all) sel.clear(); S.offenders.clear(); act(load()); };
  let typing = 0;
  $("filters").addEventListener("change", refilter);
  $("filters").addEventListener("input", (e) => {
    if (e.target.type === "search") { clearTimeout(typing); typing = setTimeout(refilter, 250); }
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refilter(); });
  $("filters").addEventListener("reset", () => setTimeout(refilter));
  let sliding = 0;
  $("size").addEventListener("input", () => {
    S.prefs.thumbnailSize = SIZES[Number($("size").value)];
    prefs.apply();
    clearTimeout(sliding);
    sliding = setTimeout(() => prefs.save(), 300);  // once the slider rests
  });
  $("page-size").addEventListener("change", () => {
    S.prefs.pageSize = Number($("page-size").value);
    S.page = 0;
    prefs.save();
    act(load());
  });
  $("select-page").onclick = () => act(sel.add(order()));
  $("select-all").onclick = () => sel.selectAll(query(), bulkFilter(), S.total);
  $("clear").onclick = () => sel.clear();
  $("prev").onclick = () => turn(-1);
  $("next").onclick = () => turn(1);
  $("classify").onclick = () => bulk.open();
  document.addEventListener("keydown", (e) => {
    if (e.key === "k" && !e.target.closest("input, select, textarea, dialog") && !$("classify").disabled) {
      e.preventDefault();
      bulk.open();
    }
  });
}

async function main() {
  S.task = await api("GET", `/tasks/${taskId}`);
  const [recipe, assignments] = await Promise.all([
    api("GET", `/recipes/${S.task.recipeId}`), api("GET", `/tasks/${taskId}/assignments`)]);
  document.title = `Browse ${S.task.name} · Classifier studio`;
  $("task-link").textContent = S.task.name;
  const labels = flatten(recipe.ontology.roots);
  labels.forEach((l) => S.colours.set(l.path, l.color));
  S.task.availableActions.forEach((s) => S.statuses.set(s.action, s));
  fill($("f-status"), S.task.availableActions.map((s) => [s.action, s.displayName || s.action]));
  fill($("f-label"), labels.map((l) => [l.path, `${"\u2003".repeat(l.depth - 1)}${l.tag}`, l.color]));
  const people = [...new Set(assignments.map((a) => a.annotator).filter(Boolean))];
  fill($("f-assignee"), people.map((p) => [p, p]));
  restore();
  const off = bulkOff(S.task);
  $("bulk-off").textContent = off;
  $("bulk-off").hidden = !off;
  await prefs.load();
  wire();
  bulk = new BulkDialog({ taskId, task: S.task, recipe, labels, selection: sel,
    done: () => act(load()), reveal: (id, ids) => act(reveal(id, ids)) });
  renderSelection();
  await load();
  bulk.listen();
  $("browse").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
