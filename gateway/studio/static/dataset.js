// `/datasets/{id}`: a dataset: upload by drag and drop or a file input (upload.js), register
// by URL, its items as the task browser's thumbnails (tiles.js) without task context, by
// folder, with a selection (selection.js) that can start a task, and its export.
import { api, el, toast } from "/studio/static/api.js";
import { exportTo } from "/studio/static/exporter.js";
import { $, allPages, onSubmit } from "/studio/static/manage.js";
import { Selection, columnsOf, step } from "/studio/static/selection.js";
import { tile } from "/studio/static/tiles.js";
import { uploadAll } from "/studio/static/upload.js";

const datasetId = $("dataset-page").dataset.datasetId;
const PAGE = 50;
const S = { dataset: null, items: [], dir: "", page: 0, focus: 0, uploads: { sent: 0, stored: 0, refused: 0 } };
const sel = new Selection(async () => shown().map((i) => i.id), renderSelection);
const NO_COLOURS = new Map();

const shown = () => S.items.filter((i) => !S.dir || i.dir === S.dir || i.dir.startsWith(S.dir + "/"));
const onPage = () => shown().slice(S.page * PAGE, (S.page + 1) * PAGE);

function asTile(i) {
  return { id: i.id, name: i.name, dir: i.dir, thumbnail: i.thumbnail || `/api/v1/items/${i.id}/thumbnail`,
           classes: [], status: null, assignee: null };
}

async function load() {
  S.items = (await allPages(`/datasets/${datasetId}/items`)).map(asTile)
    .sort((a, b) => (a.dir + "/" + a.name).localeCompare(b.dir + "/" + b.name));
  const dirs = [...new Set(S.items.map((i) => i.dir))].sort();
  $("folders").replaceChildren(...["", ...dirs].map((d) => el("button", {
    type: "button", "aria-pressed": d === S.dir ? "true" : "false", "data-dir": d,
    onclick: () => { S.dir = d; S.page = 0; sel.clear(); load().catch((e) => toast(e.message)); } }, d || "all")));
  render();
  $("dataset-page").dataset.loaded = String(S.items.length);
}

function render() {
  const items = onPage(), n = shown().length, pages = Math.max(1, Math.ceil(n / PAGE));
  S.focus = Math.min(S.focus, Math.max(items.length - 1, 0));
  $("grid").replaceChildren(...items.map((item, k) => tile(item, {
    focused: k === S.focus, selected: sel.has(item.id), offender: false, colours: NO_COLOURS, status: null })));
  $("total").textContent = `${n} item${n === 1 ? "" : "s"}${S.dir ? ` in ${S.dir}` : ""}`;
  $("page-info").textContent = `Page ${S.page + 1} of ${pages}`;
  $("prev").disabled = S.page <= 0;
  $("next").disabled = S.page >= pages - 1;
  renderSelection();
}

function renderSelection() {
  for (const node of $("grid").children) node.setAttribute("aria-selected", sel.has(node.dataset.id) ? "true" : "false");
  $("sel-count").textContent = sel.describe();
  $("task-from-selection").disabled = sel.count === 0;
}

function focusTile(k) {
  const tiles = $("grid").children;
  if (!tiles.length) return;
  S.focus = Math.max(0, Math.min(tiles.length - 1, k));
  [...tiles].forEach((t, i) => t.setAttribute("tabindex", i === S.focus ? "0" : "-1"));
  tiles[S.focus].focus();
}

function wireGrid() {
  const order = () => onPage().map((i) => i.id);
  $("grid").addEventListener("click", (e) => {
    const node = e.target.closest("[role=option]");
    if (!node) return;
    S.focus = [...$("grid").children].indexOf(node);
    if (e.shiftKey) sel.range(order(), node.dataset.id, e.ctrlKey || e.metaKey);
    else if (e.ctrlKey || e.metaKey) sel.toggle(node.dataset.id);
    else sel.only(node.dataset.id);
  });
  $("grid").addEventListener("keydown", (e) => {
    const items = onPage();
    if (!items.length) return;
    const to = step(e.key, S.focus, items.length, columnsOf($("grid")));
    if (to !== null) {
      e.preventDefault();
      const from = items[S.focus].id;
      focusTile(to);
      if (e.shiftKey) { if (sel.anchor === null) sel.anchor = from; sel.range(order(), items[to].id, true); }
    } else if (e.key === " ") { e.preventDefault(); sel.toggle(items[S.focus].id); }
    else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a") { e.preventDefault(); sel.add(order()); }
    else if (e.key === "Escape") sel.clear();
  });
  $("grid").addEventListener("focus", (e) => { if (e.target === $("grid")) focusTile(S.focus); });
  $("select-page").onclick = () => sel.add(order());
  $("clear").onclick = () => sel.clear();
  $("prev").onclick = () => { S.page--; render(); };
  $("next").onclick = () => { S.page++; render(); };
  $("task-from-selection").onclick = () => {
    sessionStorage.setItem("clf.selection", JSON.stringify({ datasetId, itemIds: [...sel.ids] }));
    location.assign(`/projects/${S.dataset.projectId}/tasks/new?dataset=${datasetId}&selection=1`);
  };
}

function wireUpload() {
  const drop = $("drop");
  const start = (files) => {
    if (!files.length) return;
    $("upload-summary").textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`;
    let seen = { stored: 0, refused: 0 };  // this batch's counts so far (batches may overlap)
    S.uploads.sent += files.length;
    uploadAll(datasetId, files, $("upload-dir").value || "/", $("uploads"), (c) => {
      S.uploads.stored += c.stored - seen.stored;
      S.uploads.refused += c.refused - seen.refused;
      seen = { ...c };
      $("upload-summary").textContent = `${S.uploads.stored} stored, ${S.uploads.refused} refused of ${S.uploads.sent}.`;
    }).then(() => load()).then(() => { $("dataset-page").dataset.uploaded = String(Number($("dataset-page").dataset.uploaded || 0) + 1); })
      .catch((e) => toast(e.message));
  };
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.dataset.over = "true"; });
  drop.addEventListener("dragleave", () => { drop.dataset.over = "false"; });
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.dataset.over = "false"; start([...e.dataTransfer.files]); });
  $("files").addEventListener("change", () => { start([...$("files").files]); $("files").value = ""; });
}

function wireUrl() {
  const video = () => $("url-type").value.startsWith("video/");
  $("url-type").addEventListener("change", () => { $("video-facts").hidden = !video(); });
  onSubmit($("by-url"), async (form) => {
    const body = { name: form.get("name").trim(), url: form.get("url").trim(), mimetype: form.get("mimetype"),
                   dir: form.get("dir") || "/" };
    if (video()) {
      if (form.get("fps")) body.fps = Number(form.get("fps"));
      if (form.get("frameCount")) body.frameCount = Number(form.get("frameCount"));
    }
    const item = await api("POST", `/datasets/${datasetId}/items`, body);
    await load();
    return `${item.name} registered in ${item.dir}.`;
  });
}

async function main() {
  S.dataset = await api("GET", `/datasets/${datasetId}`);
  const project = await api("GET", `/projects/${S.dataset.projectId}`);
  document.title = `${S.dataset.name} · Classifier studio`;
  $("dataset-title").textContent = S.dataset.name;
  $("project-link").textContent = project.name;
  $("project-link").href = `/projects/${project.id}`;
  $("dataset-meta").textContent = `created by ${S.dataset.creator}`;
  $("new-task").href = `/projects/${project.id}/tasks/new?dataset=${datasetId}`;
  $("recipe-link").href = `/recipes/${S.dataset.recipeId}`;
  wireGrid();
  wireUpload();
  wireUrl();
  for (const format of ["json", "zip"]) {
    $(`export-${format}`).onclick = () => exportTo(`/datasets/${datasetId}/export?format=${format}`,
      `${S.dataset.name}-export.${format}`, S.items.length);
  }
  await load();
  $("dataset-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
