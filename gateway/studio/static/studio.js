// The studio of a task: the item in the middle, the labels, attributes, statuses and
// annotations beside it, moving through the annotator's queue. Every action is the JSON API;
// the next item is preloaded and decoded, shown at once, and the server's answer confirms.
import { api, clearToast, el, toast } from "/studio/static/api.js";
import { AttributeForm, LabelTree, flatten } from "/studio/static/labels.js";
import { byKey, keyOf, loadKeymap, withRecipeHotkeys } from "/studio/static/keys.js";
import * as view from "/studio/static/render.js";
import { Preloader, Viewer } from "/studio/static/viewer.js";

const $ = (id) => document.getElementById(id);
const taskId = $("studio").dataset.taskId;
const me = $("studio").dataset.email;
const viewer = new Viewer($("stage"));
const images = new Preloader(24);
const AHEAD = 12;  // items fetched and decoded ahead (docs/architecture.md: the studio)
const SETTLE_MS = 60;  // an item shown this long has its annotations and status read
const S = {
  task: null, settings: null, labels: [], colours: new Map(), keymap: {}, keys: new Map(),
  current: null, nextId: null, order: [], statusOf: new Map(), annotations: [], status: null,
  changing: null, pending: null, undo: [], chain: Promise.resolve(), assignmentId: null, gen: 0,
  resume: false,  // the page shows no item (an unknown ?item=): Next returns to the queue's
  leaving: new Set(),  // items left with Auto complete whose status may not have landed yet
  visited: new Set(),  // items shown in this page
  mimetypes: new Map(),  // item -> mimetype, from the queue: videos open in the video studio
};
let tree, form;

/** One action at a time, in the order the keys were pressed. */
function run(action) {
  S.chain = S.chain.then(action).catch((e) => toast(e.message));
  return S.chain;
}

// --- showing an item ------------------------------------------------------------------

async function show(id) {
  if (id && isVideo(id)) return openVideo(id);  // never fetched as an image
  S.current = id;
  S.loading = !!id;  // label keys wait for the image: no deciding on an item not yet seen
  S.changing = null;
  $("stage").dataset.itemId = id || "";
  $("empty").hidden = !!id;
  if (!id) return showNothing("No open items left in this task for you. Well done.");
  const img = images.now(id) || await images.get(id);
  if (S.current !== id) return;
  if (!img.naturalWidth) {
    const item = await api("GET", `/items/${id}`).catch(() => null);
    if (S.current !== id) return;
    if (item && isVideo(id, item.metadata.system.mimetype)) return openVideo(id);
    S.current = null;  // nothing to decide on: Next goes back to where the queue is
    S.resume = true;
    images.take(id);
    return showNothing(item ? `${item.name} cannot be shown here (${item.metadata.system.mimetype || "no type"}).`
                            : "This item does not exist or is not in this task. Press Next ▶ to go on.");
  }
  viewer.show(img.parentNode ? (await freshImage(id)) : img, `item ${id}`);
  $("stage").dataset.painted = id;
  S.visited.add(id);
  S.loading = false;
  openAfter(id, AHEAD).forEach((ahead, k) => preload(ahead, k < 2 ? "high" : "low"));
  requestAnimationFrame(() => performance.mark(`painted:${id}`));  // the frame it is painted in
  renderPosition();
  // an item walked past at once (a key held down the queue) is never read
  setTimeout(() => {
    if (S.current !== id) return;
    history.replaceState(null, "", `?item=${encodeURIComponent(id)}`);  // a reload comes back here
    refreshItem(id);
  }, SETTLE_MS);
}

function showNothing(message) {
  viewer.clear();
  $("empty").hidden = false;
  $("empty").textContent = message;
  $("stage").dataset.painted = "";
  renderAnnotations([]);
}

/** A video item has its own studio (video.js); the queue says which items are videos. */
function isVideo(id, mimetype) {
  if (mimetype) S.mimetypes.set(id, mimetype);
  return String(S.mimetypes.get(id) || "").startsWith("video/");
}

/** Preload an upcoming item, unless it is a video (fetched by its own studio, as a stream). */
function preload(id, priority = "auto") {
  if (id && !isVideo(id)) images.get(id, priority);
}

/** What the server says of an item it hands out (its mimetype among the rest). */
function learn(item) {
  if (item && item.id && item.metadata) isVideo(item.id, item.metadata.system.mimetype);
}

function openVideo(id) {
  location.assign(`/items/${encodeURIComponent(id)}/studio?taskId=${encodeURIComponent(taskId)}`);
}

/** Open an item of the task (a thumbnail, the task browser's `?item=`): moving on from it
 * goes to the open item after it in work order. */
async function goTo(id) {
  clearToast();
  S.changing = null; S.pending = null;
  await show(id);
}

async function freshImage(id) {
  images.take(id);
  return images.get(id);
}

async function refreshItem(id) {
  try {
    const item = await api("GET", `/items/${id}/annotations`);
    if (S.current !== id) return;
    const ref = (item.metadata.system.refs || []).find((r) => r.type === "task" && r.id === taskId);
    S.status = ref && ref.metadata.status ? ref.metadata.status : null;
    S.statusOf.set(id, S.status);
    $("stage").setAttribute("aria-label", `${item.name}: wheel or + and - to zoom, drag to pan, 0 to fit`);
    renderAnnotations(item.annotations.filter((a) => a.type === "class"));
    renderStatuses();
    renderPosition();
  } catch (e) {
    toast(e.message);
  }
}

/** The item moving on would reach, preloaded; and the few after it in work order. */
async function peek() {
  const answer = await api("GET", `/tasks/${taskId}/next-item`);
  S.nextId = answer.nextItemId || null;
  $("stage").dataset.next = S.nextId || "";
  S.assignmentId = answer.assignmentId || S.assignmentId;
  learn(answer.nextItem);
  preload(S.nextId);
  const at = S.order.indexOf(S.nextId);
  if (at >= 0) S.order.slice(at + 1, at + 3).forEach((id) => preload(id));
  return answer;
}

async function loadOrder() {
  if (!S.assignmentId) return;
  const page = await api("GET", `/assignments/${S.assignmentId}/items?pageSize=1000`);
  S.order = page.items.map((r) => r.itemId);
  for (const r of page.items) {
    S.statusOf.set(r.itemId, r.status);
    if (r.mimetype) S.mimetypes.set(r.itemId, r.mimetype);
  }
  renderPosition();
}

// --- rendering (gateway/studio/static/render.js) ------------------------------------------

const renderPosition = () => view.renderPosition(S, (id) => run(() => goTo(id)));
const renderAnnotations = (annotations) => view.renderAnnotations(S, annotations, {
  change: startChange, remove: (a) => run(() => remove(a)) });
const renderStatuses = () => view.renderStatuses(S, (action) => run(() => setStatus(action)));
const renderToggles = view.renderToggles;
const help = () => view.help(S, labelOf);

// --- decisions --------------------------------------------------------------------------

function pick(label) {
  if (!S.current || S.loading) return;
  form.show(label, form.read().values);
  const { values, missing } = form.read();
  if (S.changing) return run(() => change(S.changing, label, values, missing));
  if (missing.length) {
    S.pending = label;
    toast(`${missing.map((a) => a.title || a.key).join(", ")} is required for ${label.tag}: fill it in, then press Enter.`);
    form.form.querySelector(`[data-key="${CSS.escape(missing[0].key)}"] input, [data-key="${CSS.escape(missing[0].key)}"] select`)?.focus();
    return;
  }
  S.pending = null;
  const from = S.current;
  if (!(S.settings.autoNext && S.task.singleClass)) return run(() => classify(from, label, values));
  // Auto next: the next item is shown now, at the key press; the server's answer confirms
  const gen = S.gen, prev = S.status;
  if (S.settings.autoComplete) S.leaving.add(from);  // completed as it is left
  // (a video opens its own page: only once the server has the decision, or it may be lost)
  const predicted = predictNext(from), shown = predicted && !isVideo(predicted) ? predicted : null;
  if (shown) show(shown);  // at once when preloaded, else as soon as it is decoded
  return run(() => classifyAndGo(from, label, values, gen, prev, shown));
}

/** The first open item after `from` in work order (wrapping round), as the queue moves on. */
function predictNext(from) {
  return openAfter(from, 1)[0] || null;
}

function openAfter(from, count) {
  const n = S.order.length, at = S.order.indexOf(from), found = [];
  if (at < 0) return S.nextId && S.nextId !== from ? [S.nextId] : [];
  for (let k = 1; k < n && found.length < count; k++) {
    const id = S.order[(at + k) % n];
    if (!S.statusOf.get(id) && !S.leaving.has(id)) found.push(id);
  }
  return found;
}

async function classify(from, label, attributes) {
  if (!from) return;
  clearToast();
  const decision = { kind: "classify", item: from, prev: S.status, left: false };
  const answer = await api("POST", `/items/${from}/annotations`, { label: label.path, attributes, taskId });
  decision.annotation = answer.id;
  S.undo.push(decision);
  return refreshItem(from);
}

async function classifyAndGo(from, label, attributes, gen, prev, shown) {
  if (gen !== S.gen || !from) return;  // a refusal came back meanwhile: dropped
  let answer;
  try {
    answer = await api("POST", `/items/${from}/annotations`, { label: label.path, attributes, taskId });
  } catch (e) {
    S.gen++;
    S.leaving.clear();  // what the server has not confirmed is open again
    await show(from);
    throw e;
  }
  S.undo.push({ kind: "classify", item: from, prev, left: true, annotation: answer.id });
  const workflow = answer.workflow || {};
  const next = answer.nextItem ? answer.nextItem.id : null;
  learn(answer.nextItem);
  preload(workflow.thenItemId);
  if (!workflow.refused && S.current !== from &&
      (next === shown || (workflow.status === "pending" && shown))) {
    S.nextId = workflow.thenItemId || predictNext(S.current);
    return;  // confirmed (or the move is still on its way): the page is already there
  }
  S.gen++;  // the server says otherwise: its word, and the keys pressed meanwhile are dropped
  await arrived(next, workflow, from);
}

/** The item in hand once a move from `from` still on its way has landed (a few seconds). */
async function whereNow(from) {
  let where;
  for (let tries = 0; tries < 50; tries++) {
    where = await api("GET", `/tasks/${taskId}/next-item`);
    if (where.currentItemId !== from) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return where.currentItemId;
}

/** After a move: show where the server says we are, or come back with its reason. */
async function arrived(nextId, workflow, from) {
  if (workflow.refused) {
    if (S.current !== from) await show(from);
    toast(workflow.refused.message || workflow.refused.reason);
    return;
  }
  if (workflow.status === "pending") nextId = await whereNow(from);
  if (nextId !== S.current) await show(nextId);
  if (workflow.completedItemId) S.statusOf.set(workflow.completedItemId, "completed");
  await peek();
  renderPosition();
}

async function move(direction) {
  const from = S.current;
  clearToast();
  if (direction === "previous") {
    const back = await api("POST", `/tasks/${taskId}/previous-item`);
    learn(back.item);
    await show(back.itemId);
    return peek();
  }
  if (!from && S.resume) {  // after an address naming no item: the item the queue is at
    S.resume = false;
    const where = await api("GET", `/tasks/${taskId}/next-item`);
    if (where.currentItemId) {
      await show(where.currentItemId);
      return peek();
    }
  }
  const optimistic = S.nextId && images.now(S.nextId) ? S.nextId : null;
  if (optimistic) show(optimistic);
  let answer;
  try {
    answer = await api("POST", `/tasks/${taskId}/next-item`, from ? { itemId: from } : undefined);
  } catch (e) {
    if (S.current !== from) await show(from);
    throw e;
  }
  if (S.settings.autoComplete && from) S.undo.push({ kind: "left", item: from, prev: S.status });
  learn(answer.nextItem);
  await arrived(answer.nextItem ? answer.nextItem.id : null, answer, from);
}

async function setStatus(action, record = true) {
  const item = S.current;
  if (!item) return;
  const prev = S.status;
  const clear = action === null || prev === action;
  await (clear ? api("DELETE", `/tasks/${taskId}/items/${item}/status`)
               : api("PUT", `/tasks/${taskId}/items/${item}/status`, { status: action }));
  if (record) S.undo.push({ kind: "status", item, prev });
  if (S.current === item) {
    S.status = clear ? null : action;
    S.statusOf.set(item, S.status);
    renderStatuses();
    renderPosition();
  }
}

async function done() {
  if (!S.current) return;
  if (S.status !== "completed") await setStatus("completed");
  await move("next");
}

function startChange(annotation) {
  S.changing = annotation;
  toast(`Pick the new label for ${annotation.label.split(".").pop()} (Esc cancels).`, "info");
  $("tree").focus();
}

async function change(annotation, label, attributes, missing) {
  S.changing = null;
  if (missing.length) throw new Error(`${missing.map((a) => a.title || a.key).join(", ")} is required for ${label.tag}.`);
  await api("PATCH", `/annotations/${annotation.id}?taskId=${taskId}`, { label: label.path, attributes });
  toast(`Changed to ${label.tag}.`, "info");
  await refreshItem(S.current);
}

async function remove(annotation) {
  await api("DELETE", `/annotations/${annotation.id}?taskId=${taskId}`);
  await refreshItem(S.current);
}

/** Wait (a few seconds at most) until the item holds `status`. */
async function statusLanded(item, status) {
  for (let tries = 0; tries < 50; tries++) {
    const found = await api("GET", `/items/${item}`);
    const ref = (found.metadata.system.refs || []).find((r) => r.type === "task" && r.id === taskId);
    if (ref && ref.metadata.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Ctrl+Z: the last decision undone, on this item or the one just left. */
async function undo() {
  const d = S.undo.pop();
  if (!d) return toast("Nothing to undo.", "info");
  if (d.item !== S.current) {
    const back = await api("POST", `/tasks/${taskId}/previous-item`);
    learn(back.item);
    await show(back.itemId);
  }
  if (d.kind === "classify") await api("DELETE", `/annotations/${d.annotation}?taskId=${taskId}`);
  S.leaving.delete(d.item);
  const completed = (d.kind === "left" || d.left) && S.settings.autoComplete;
  if (completed) await statusLanded(d.item, "completed");  // Auto complete's, else it lands after
  if (d.kind === "status" || completed) {
    await (d.prev ? api("PUT", `/tasks/${taskId}/items/${d.item}/status`, { status: d.prev })
                  : api("DELETE", `/tasks/${taskId}/items/${d.item}/status`));
  }
  await refreshItem(d.item);
  await peek();
  toast("Undone.", "info");
}

// --- settings, keys, live feed -----------------------------------------------------------

/** The toggles take effect at once: a label key pressed right after turning Auto next on
 * moves on (its classify is sent after the setting, which `run` keeps in order); the server's
 * answer, or the setting as it was if it refuses, follows. */
function changeSettings() {
  const before = { autoNext: S.settings.autoNext, autoComplete: S.settings.autoComplete };
  const autoNext = $("auto-next").checked;
  const autoComplete = autoNext && $("auto-complete").checked;
  Object.assign(S.settings, { autoNext, autoComplete });
  renderToggles(S.settings);
  return run(async () => {
    try {
      Object.assign(S.settings, await api("PUT", `/tasks/${taskId}/workflow-settings`, { autoNext, autoComplete }));
    } catch (e) {
      Object.assign(S.settings, before);
      throw e;
    } finally {
      renderToggles(S.settings);
    }
  });
}

/** The label a `label:N` or `label:<path>` action names. */
function labelOf(action) {
  const which = action.slice("label:".length);
  return /^[1-9]$/.test(which) ? S.labels[Number(which) - 1] : S.labels.find((l) => l.path === which);
}

function onKey(e) {
  if (e.defaultPrevented || $("help").open) return;
  const target = e.target;
  const typing = target.closest && target.closest("input, select, textarea, form");
  if (e.key === "Escape") {
    S.changing = null; S.pending = null; clearToast(); return;
  }
  if (typing) return;
  const control = target.closest && target.closest("button, a, [role=treeitem]");
  if (control && ["Enter", " "].includes(e.key)) return;  // the focused control's own
  const action = S.keys.get(keyOf(e));
  if (!action) return;
  e.preventDefault();
  if (action.startsWith("label:")) {
    const label = labelOf(action);
    if (label) pick(label);
  } else if (action.startsWith("status:")) run(() => setStatus(action.slice(7)));
  else if (action === "next") run(() => move("next"));
  else if (action === "previous") run(() => move("previous"));
  else if (action === "done") { if (!S.task.singleClass) run(done); }
  else if (action === "undo") run(undo);
  else if (action === "help") help();
  else if (action === "filter") $("filter").focus();
}

let feedTimer = 0;

/** The task feed: anything about this queue (an item taken or returned, a status set
 * elsewhere) re-reads where we are. */
function listen() {
  const feed = new EventSource(`/api/v1/tasks/${taskId}/feed`, { withCredentials: true });
  const changed = (e) => {
    if (ownStep(JSON.parse(e.data || "{}"))) return;
    clearTimeout(feedTimer);
    feedTimer = setTimeout(() => run(resync), 100);
  };
  for (const type of ["QueueChanged", "MovedOn", "LeasesGranted", "LeasesExpired", "LeasesReleased",
                      "ItemsReturned", "AutoCompleteRefused", "BulkCompleted", "BulkUndone"]) {
    feed.addEventListener(type, changed);
  }
  feed.onerror = () => { if (feed.readyState === EventSource.CONNECTING) $("stage").dataset.feed = "reconnecting"; };
  feed.addEventListener("snapshot", () => { $("stage").dataset.feed = "live"; });
}

/** A fact of this page's own keyboard flow (its move, its Auto complete), which the page is
 * ahead of already: no re-reading the queue for each item walked (bench/studio.py). */
function ownStep(fact) {
  if (!fact.actor || fact.actor.email !== me) return false;
  if (fact.type === "MovedOn" && S.visited.has(fact.itemId)) {
    if (fact.completedItemId) S.statusOf.set(fact.completedItemId, S.statusOf.get(fact.completedItemId) || "completed");
    return true;
  }
  return fact.type === "QueueChanged" && fact.reason === "status" && S.visited.has(fact.currentItemId);
}

async function resync() {
  const where = await peek();
  await loadOrder();
  // (the server's item in hand may lag the page's by the moves still on their way: no jump)
  if (S.current && where && !S.order.includes(S.current)) {
    toast("This item was taken elsewhere; moving on.", "info");
    await move("next");
  } else if (S.current) {
    await refreshItem(S.current);
  }
}

// --- start --------------------------------------------------------------------------------

async function main() {
  S.task = await api("GET", `/tasks/${taskId}`);
  $("task-name").textContent = S.task.name;
  document.title = `${S.task.name} · Classifier studio`;
  const [recipe, settings, keymap] = await Promise.all([
    api("GET", `/recipes/${S.task.recipeId}`), api("GET", `/tasks/${taskId}/workflow-settings`),
    loadKeymap(S.task.availableActions)]);
  S.settings = settings;
  withRecipeHotkeys(keymap, recipe.ontology.roots);
  S.keymap = keymap;
  S.keys = byKey(keymap);
  S.labels = flatten(recipe.ontology.roots);
  S.labels.forEach((label, i) => {
    S.colours.set(label.path, label.color);
    label.key = keymap[`label:${label.path}`] || keymap[`label:${i + 1}`];
  });
  $("done").textContent = `Done: complete and go on (${keymap.done || "no key"})`;
  $("done").setAttribute("aria-keyshortcuts", keymap.done || "");
  tree = new LabelTree($("tree"), $("filter"), S.labels, pick);
  tree.render();
  form = new AttributeForm($("attrs"), $("attrs-for"), recipe.ontology.metadata.attributes || []);
  form.show(null);
  $("attrs").addEventListener("submit", (e) => { e.preventDefault(); if (S.pending) pick(S.pending); });
  $("attrs").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && S.pending) { e.preventDefault(); pick(S.pending); }
  });
  renderToggles(settings);
  $("auto-next").onchange = $("auto-complete").onchange = changeSettings;
  $("done").hidden = S.task.singleClass;
  $("next").onclick = () => run(() => move("next"));
  $("previous").onclick = () => run(() => move("previous"));
  $("done").onclick = () => run(done);
  $("help-button").onclick = help;
  document.addEventListener("keydown", onKey);
  renderStatuses();
  const where = await peek();
  await loadOrder();
  const asked = new URLSearchParams(location.search).get("item");
  if (asked) await show(asked);
  else if (where.currentItemId) await show(where.currentItemId);
  else if (where.nextItemId) await move("next");
  else await show(null);
  listen();
  $("studio").dataset.ready = "true";
  $("stage").focus();
}

main().catch((e) => toast(e.message));
