// The video studio: a frame-accurate player, the recipe's labels, and the item's scenes on a
// timeline. A label at the current frame starts a scene running to the end; the selected
// scene's end, start, label and hidden stretches change from here; while playing, label keys
// paint. In a task (`taskId`) every change carries it, so the task's rules apply.
import { api, clearToast, el, toast } from "/studio/static/api.js";
import { AttributeForm, LabelTree, flatten } from "/studio/static/labels.js";
import { byKey, keyOf, loadKeymap } from "/studio/static/keys.js";
import { Painter } from "/studio/static/paint.js";
import { Player } from "/studio/static/player.js";
import * as view from "/studio/static/scenelist.js";
import { Timeline, partAt, sceneOf } from "/studio/static/timeline.js";

const $ = (id) => document.getElementById(id);
const root = $("studio");
const itemId = root.dataset.itemId, taskId = root.dataset.taskId || null;
const inTask = taskId ? `?taskId=${encodeURIComponent(taskId)}` : "";
const SPEEDS = ["0.25", "0.5", "1", "2", "4", "8"];
const S = { item: null, labels: [], colours: new Map(), keys: new Map(), scenes: [], selected: null,
            changing: false, chain: Promise.resolve() };
let player, timeline, painter, tree, form;

/** One change at a time, in the order asked; a refusal shows the server's words. */
function run(action) {
  S.chain = S.chain.then(action).catch((e) => toast(e.message));
  return S.chain;
}

const tag = (path) => path.split(".").pop();
const colourOf = (path) => S.colours.get(path) || "#999999";
const selected = () => view.selectedOf(S);

// --- reading and showing the scenes ---------------------------------------------------------

async function refresh() {
  const item = await api("GET", `/items/${itemId}/annotations`);
  S.scenes = item.annotations.map((a) => sceneOf(a, player.last)).filter(Boolean)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  if (!selected()) S.selected = null;
  render();
  root.dataset.scenes = String(S.scenes.length);
}

function render() {
  timeline.update(S.scenes, S.selected);
  renderList();
  renderSelected();
  renderChips(player.frame);
}

const renderChips = (frame) => view.renderChips(S, frame, colourOf);
const renderList = () => view.renderList(S, colourOf, { select: (s) => select(s, true),
                                                        remove: (s) => run(() => removeScene(s)) });
const renderSelected = () => view.renderSelected(S);

function select(s, seek = false) {
  S.selected = s ? s.id : null;
  if (s && seek && (player.frame < s.start || player.frame > s.end)) player.seek(s.start);
  render();
}

function onFrame(frame) {
  $("frame-counter").textContent = `Frame ${frame} / ${player.last}`;
  $("time").textContent = `${player.time(frame).toFixed(3)} s`;
  $("stage").dataset.frame = String(frame);
  timeline.setFrame(frame);
  if (player.playing) timeline.follow();
  if (painter.active) timeline.preview(painter.switches, frame);
  renderChips(frame);
}

// --- changes (each one request; the list is read again after it) -----------------------------

async function startScene(label, attributes) {
  const made = await api("POST", `/items/${itemId}/scenes${inTask}`, { label: label.path, frame: player.frame, attributes });
  S.selected = made.id;
  await refresh();
}

async function patchScene(body, s = selected()) {
  if (!s) return;
  await api("PATCH", `/scenes/${s.id}${inTask}`, body);
  await refresh();
}

async function hide() {
  const s = selected(), to = Number($("hide-to").value);
  if (!s) return;
  if ($("hide-to").value === "" || to < player.frame) throw new Error("Enter the last frame to hide (from this frame on).");
  await api("POST", `/scenes/${s.id}/hide${inTask}`, { from: player.frame, to });
  await refresh();
}

/** Unhide the hidden stretch at this frame (or this frame to the "to" frame). */
async function unhide() {
  const s = selected();
  if (!s) return;
  const part = partAt(s, player.frame);
  const body = part && part.hidden ? { from: part.first, to: part.last }
    : $("hide-to").value !== "" ? { from: player.frame, to: Number($("hide-to").value) } : null;
  if (!body) throw new Error("This frame is not hidden: go to a hidden stretch of the scene.");
  await api("POST", `/scenes/${s.id}/unhide${inTask}`, body);
  await refresh();
}

async function removeScene(s = selected()) {
  if (!s) return;
  await api("DELETE", `/scenes/${s.id}${inTask}`);
  if (S.selected === s.id) S.selected = null;
  await refresh();
}

async function paintSwitches(switches, stop) {
  const body = { switches, attributes: form.read().values };
  if (stop !== null) body.stopFrame = stop;
  const made = await api("POST", `/items/${itemId}/scenes/paint${inTask}`, body);
  toast(`Painted ${made.annotations.length} scene(s).`, "info");
  await refresh();
}

/** A label: while playing, paint it from this frame on; else change the selected scene's label
 * (after "change label") or start a scene here. */
function pick(label) {
  form.show(label, form.read().values);
  const { values, missing } = form.read();
  if (player.playing) return painter.switchTo(player.frame, label.path);
  if (missing.length) return toast(`${missing.map((a) => a.title || a.key).join(", ")} is required for ${label.tag}.`);
  if (S.changing && selected()) {
    S.changing = false;
    return run(() => patchScene({ label: label.path }));
  }
  return run(() => startScene(label, values));
}

function onPainting(p) {
  const box = $("painting");
  box.hidden = !p.active;
  box.textContent = p.active ? (p.current ? `Painting ${tag(p.current)} from frame ${p.switches.at(-1).frame}` : "Painting none") : "";
  root.dataset.painting = p.active ? (p.current || "none") : "";
  timeline.preview(p.switches, player.frame);
}

// --- keys -------------------------------------------------------------------------------------

const ACTIONS = {
  space: ["play or pause", () => player.toggle()],
  arrowleft: ["1 frame back", () => player.step(-1)], arrowright: ["1 frame on", () => player.step(1)],
  "shift+arrowleft": ["10 frames back", () => player.step(-10)], "shift+arrowright": ["10 frames on", () => player.step(10)],
  home: ["to the first frame", () => player.seek(0)], end: ["to the last frame", () => player.seek(player.last)],
  0: ["while playing: paint none from here", () => painter.switchTo(player.frame, null)],
  e: ["selected scene: end at this frame", () => run(() => patchScene({ endFrame: player.frame }))],
  s: ["selected scene: start at this frame", () => run(() => patchScene({ frame: player.frame }))],
  l: ["selected scene: change its label (then pick one)", () => changeLabel()],
  h: ["selected scene: hide from here to the frame entered", () => run(hide)],
  u: ["selected scene: unhide the hidden stretch here", () => run(unhide)],
  delete: ["delete the selected scene", () => run(() => removeScene())],
  "[": ["slower", () => speed(-1)], "]": ["faster", () => speed(1)],
  "+": ["zoom the timeline in", () => zoom(1)], "-": ["zoom the timeline out", () => zoom(-1)],
  "/": ["filter the labels", () => $("filter").focus()], "?": ["show the keys", () => help()],
};

function changeLabel() {
  if (!selected()) return;
  S.changing = true;
  toast(`Pick the new label for the ${tag(selected().label)} scene (Esc cancels).`, "info");
}

function speed(by) {
  const at = Math.min(SPEEDS.length - 1, Math.max(0, SPEEDS.indexOf($("speed").value) + by));
  $("speed").value = SPEEDS[at];
  player.speed(Number(SPEEDS[at]));
}

function zoom(by) {
  $("zoom").textContent = `${timeline.setZoom(by)}×`;
}

function onKey(e) {
  if (e.defaultPrevented || $("help").open) return;
  if (e.key === "Escape") { S.changing = false; clearToast(); return; }
  if (e.target.closest && e.target.closest("input, select, textarea, form")) return;
  const control = e.target.closest && e.target.closest("button, a, [role=treeitem]");
  const key = keyOf(e);
  if (control && ["enter", "space"].includes(key)) return;  // the focused control's own
  const action = S.keys.get(key);
  if (action && action.startsWith("label:")) {
    const which = action.slice(6);
    const label = /^[1-9]$/.test(which) ? S.labels[Number(which) - 1] : S.labels.find((l) => l.path === which);
    if (label) { e.preventDefault(); pick(label); }
    return;
  }
  const fixed = ACTIONS[key === "=" ? "+" : key === "backspace" ? "delete" : key];
  if (fixed) { e.preventDefault(); fixed[1](); }
}

function help() {
  const rows = S.labels.filter((l) => l.key).map((l) => [l.key, `label ${l.path.replaceAll(".", " › ")}: start a scene here (playing: paint it)`]);
  rows.push(...Object.entries(ACTIONS).map(([k, [what]]) => [k, what]));
  $("help-keys").replaceChildren(...rows.map(([k, what]) => el("tr", {}, el("th", {}, el("kbd", {}, k)), el("td", {}, what))));
  $("help").showModal();
}

// --- the task around the video ------------------------------------------------------------------

async function moveOn(complete) {
  if (complete) await api("PUT", `/tasks/${taskId}/items/${itemId}/status`, { status: "completed" });
  const answer = await api("POST", `/tasks/${taskId}/next-item`, { itemId });
  if (answer.workflow && answer.workflow.refused) throw new Error(answer.workflow.refused.message || answer.workflow.refused.reason);
  const next = answer.nextItem, task = encodeURIComponent(taskId);
  if (next && String(next.metadata?.system?.mimetype || "").startsWith("video/")) {
    return location.assign(`/items/${encodeURIComponent(next.id)}/studio?taskId=${task}`);  // straight to it
  }
  location.assign(`/tasks/${task}/studio${next ? `?item=${encodeURIComponent(next.id)}` : ""}`);
}

// --- start ----------------------------------------------------------------------------------------

async function main() {
  const item = S.item = await api("GET", `/items/${itemId}`);
  const system = item.metadata.system;
  if (!String(system.mimetype || "").startsWith("video/")) throw new Error(`${item.name} is not a video.`);
  const task = taskId ? await api("GET", `/tasks/${taskId}`) : null;
  const recipeId = task ? task.recipeId : (await api("GET", `/datasets/${item.datasetId}`)).recipeId;
  const [recipe, keymap] = await Promise.all([api("GET", `/recipes/${recipeId}`),
                                               loadKeymap(task ? task.availableActions : [])]);
  $("item-name").textContent = item.name;
  document.title = `${item.name} · Video studio`;
  if (task) {
    Object.assign($("task-name"), { hidden: false, textContent: task.name, href: `/tasks/${taskId}` });
    $("task-tools").hidden = false;
    $("done").onclick = () => run(() => moveOn(true));
    $("next").onclick = () => run(() => moveOn(false));
  }
  S.labels = flatten(recipe.ontology.roots);
  S.labels.forEach((label, i) => {
    S.colours.set(label.path, label.color);
    label.key = keymap[`label:${label.path}`] || keymap[`label:${i + 1}`];
  });
  S.keys = new Map([...byKey(keymap)].filter(([, action]) => action.startsWith("label:")));
  tree = new LabelTree($("tree"), $("filter"), S.labels, pick);
  tree.render();
  form = new AttributeForm($("attrs"), $("attrs-for"), recipe.ontology.metadata.attributes || []);
  form.show(null);

  const video = $("video");
  const frames = system.nb_frames || Math.round(system.duration * system.fps);
  player = new Player(video, { fps: system.fps, frames, onFrame, onState: (playing, stoppedAt, ended) => {
    $("play").textContent = playing ? "❚❚ Pause" : "▶ Play";
    root.dataset.playing = String(playing);
    if (!playing) run(() => painter.stop(stoppedAt, ended || stoppedAt >= player.last));
  } });
  painter = new Painter(paintSwitches, onPainting);
  timeline = new Timeline($("timeline"), {
    frames, colourOf, onSelect: (s) => select(s), onSeek: (f) => player.seek(f),
    onDrag: (s, edge, f) => run(() => patchScene(edge === "start" ? { frame: f } : { endFrame: f }, s)),
  });
  video.src = `/api/v1/items/${itemId}/stream`;
  await new Promise((resolve, reject) => {
    video.addEventListener("loadeddata", resolve, { once: true });
    video.addEventListener("error", () => reject(new Error(`This browser cannot play ${item.name} (${system.mimetype}).`)), { once: true });
  });
  player.seek(0);
  onFrame(0);
  $("jump").max = String(player.last);
  $("hide-to").max = String(player.last);
  const buttons = { "to-start": () => player.seek(0), back10: () => player.step(-10), back1: () => player.step(-1),
                    play: () => player.toggle(), fwd1: () => player.step(1), fwd10: () => player.step(10),
                    "to-end": () => player.seek(player.last), "set-end": ACTIONS.e[1], "move-start": ACTIONS.s[1],
                    "change-label": changeLabel, "delete-scene": ACTIONS.delete[1], hide: ACTIONS.h[1],
                    unhide: ACTIONS.u[1], "zoom-in": () => zoom(1), "zoom-out": () => zoom(-1), "help-button": help };
  for (const [id, action] of Object.entries(buttons)) $(id).onclick = action;
  $("speed").onchange = () => player.speed(Number($("speed").value));
  $("jump").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); player.seek(Number($("jump").value)); $("stage").focus(); }
  });
  document.addEventListener("keydown", onKey);
  await refresh();
  root.dataset.ready = "true";
  $("stage").focus();
}

main().catch((e) => toast(e.message));
