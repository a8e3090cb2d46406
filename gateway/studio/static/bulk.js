// The task browser's classification tool: the label picker (the studio's tree, colours, keys
// and attribute inputs), the API's preview of what a bulk would change, Classify or Classify &
// Set Status, the progress from the task's live feed, the counts when done and Undo with its
// own report. Refusals show the API's words and the first offending items (each opens them in
// the grid).
import { api, el, toast } from "/studio/static/api.js";
import { byKey, keyOf, loadKeymap } from "/studio/static/keys.js";
import { AttributeForm, LabelTree } from "/studio/static/labels.js";
import { BUILT_IN, bulkOff } from "/studio/static/progress.js";
import { offenderList, previewView, resultView, undoView } from "/studio/static/bulkviews.js";

const $ = (id) => document.getElementById(id);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class BulkDialog {
  constructor({ taskId, task, recipe, labels, selection, done, reveal }) {
    Object.assign(this, { taskId, task, labels, sel: selection, done, reveal, label: null,
                          running: null, last: null, gen: 0, keys: new Map() });
    this.dialog = $("bulk");
    this.tree = new LabelTree($("bulk-tree"), $("bulk-filter"), labels, (l) => this.pick(l));
    this.form = new AttributeForm($("bulk-attrs"), $("bulk-attrs-for"), recipe.ontology.metadata.attributes || []);
    this.form.show(null);
    this.tree.render();
    this.statusChoices();
    loadKeymap(task.availableActions).then((map) => {
      labels.forEach((l, i) => { l.key = map[`label:${l.path}`] || map[`label:${i + 1}`]; });
      this.keys = byKey(map);
      this.tree.render();
    });
    let typing = 0;
    const later = () => { clearTimeout(typing); typing = setTimeout(() => this.preview(), 200); };
    $("bulk-attrs").addEventListener("input", later);
    $("bulk-attrs").addEventListener("change", later);
    $("bulk-attrs").addEventListener("submit", (e) => e.preventDefault());
    $("bulk-status").addEventListener("change", () => this.preview());
    $("bulk-classify").onclick = () => this.apply("classify");
    $("bulk-classify-status").onclick = () => this.apply("classify-and-set-status");
    $("bulk-undo").onclick = () => this.undo().catch((e) => this.refused(e));
    this.dialog.addEventListener("keydown", (e) => this.onKey(e));
    this.dialog.addEventListener("keydown", (e) => {  // before the tree's own Escape (which keeps it)
      if (e.key === "Escape" && !$("bulk-filter").value) { e.stopPropagation(); this.dialog.close(); }
    }, true);
  }

  /** `completed` preselected; with custom statuses, they are listed first and one is chosen. */
  statusChoices() {
    const all = this.task.availableActions;
    const custom = all.filter((a) => !BUILT_IN.has(a.action));
    const listed = [...custom, ...all.filter((a) => BUILT_IN.has(a.action))];
    const options = listed.map((a) => el("option", { value: a.action, "data-custom": !BUILT_IN.has(a.action) || undefined,
      selected: !custom.length && a.action === "completed" }, a.displayName || a.action));
    if (custom.length) options.unshift(el("option", { value: "", selected: true }, "Choose a status…"));
    $("bulk-status").replaceChildren(...options);
  }

  open() {
    const off = bulkOff(this.task);
    if (off) return toast(off);
    if (!this.sel.count) return toast("Select items first: click, Ctrl+click or Shift+click them, or select all matching.");
    $("bulk-h").textContent = `Classify: ${this.sel.describe()}`;
    if (!this.running) { this.errors = (this.errors || 0) + 1; $("bulk-error").replaceChildren(); }
    this.dialog.showModal();
    $("bulk-filter").focus();
    this.preview();
  }

  onKey(e) {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const action = this.keys.get(keyOf(e));
    if (!action || !action.startsWith("label:")) return;
    const which = action.slice(6);
    const label = /^[1-9]$/.test(which) ? this.labels[Number(which) - 1] : this.labels.find((l) => l.path === which);
    if (label) { e.preventDefault(); this.pick(label); }
  }

  pick(label) {
    this.label = label;
    $("bulk-label").replaceChildren(el("span", { class: "swatch", style: `--c:${label.color}`, "aria-hidden": "true" }),
                                    ` ${label.path.replaceAll(".", " › ")}`);
    $("bulk-label").dataset.path = label.path;
    setTimeout(() => {  // the tree shows the picked label as its active one (once its filter is cleared)
      if ($("bulk-filter").value.trim()) return;
      this.tree.active = this.labels.indexOf(label);
      this.tree.render();
    });
    this.form.show(label, this.form.read().values);
    const { missing } = this.form.read();
    const first = missing.length ? $("bulk-attrs").querySelector(`[data-key="${CSS.escape(missing[0].key)}"] input, [data-key="${CSS.escape(missing[0].key)}"] select`) : null;
    (first || $("bulk-classify")).focus();
    this.preview();
  }

  /** The label, attributes and status as a bulk body, or a sentence saying what is missing. */
  body(mode) {
    if (!this.label) return "Pick a label (click it, or its key, or type to filter and press Enter).";
    const { values, missing } = this.form.read();
    if (missing.length) return `${missing.map((a) => a.title || a.key).join(", ")} is required for ${this.label.tag}.`;
    const body = { ...this.sel.body(), label: this.label.path, attributes: values, mode };
    if (mode === "classify-and-set-status") {
      if (!$("bulk-status").value) return "Choose the status to set.";
      body.status = $("bulk-status").value;
    }
    return body;
  }

  async preview() {
    const gen = ++this.gen;
    const box = $("bulk-preview");
    let body = this.body("classify-and-set-status");
    if (typeof body === "string" && this.label && !$("bulk-status").value) body = this.body("classify");
    if (typeof body === "string") { box.replaceChildren(el("p", { class: "muted" }, body)); box.dataset.state = "waiting"; return; }
    box.dataset.state = "loading";
    try {
      const answer = await api("POST", `/tasks/${this.taskId}/bulk-classify/preview`, body);
      if (gen !== this.gen) return;
      const status = this.task.availableActions.find((a) => a.action === body.status);
      box.replaceChildren(...previewView(answer, this.label, status, (s) => this.statusName(s)));
      Object.assign(box.dataset, { state: "ready", total: answer.total, wouldChange: answer.wouldChange,
                                   already: answer.alreadyClassified, overwritten: answer.statusOverwritten });
      this.errors = (this.errors || 0) + 1;
      $("bulk-error").replaceChildren();
    } catch (e) {
      if (gen !== this.gen) return;
      box.replaceChildren();
      box.dataset.state = "refused";
      this.refused(e, "preview");
    }
  }

  async apply(mode) {
    if (this.running) return;
    const body = this.body(mode);
    if (typeof body === "string") return this.error(body, null, "page");
    this.running = { id: null, total: this.sel.count, mode };
    this.busy(true);
    $("bulk-result").replaceChildren();
    $("bulk-undo").hidden = true;
    this.progress(0, this.sel.count);
    let answer;
    try {
      answer = await api("POST", `/tasks/${this.taskId}/bulk-classify`, body);
    } catch (e) {
      this.running = null;
      this.busy(false);
      $("bulk-progress").hidden = true;
      return this.refused(e, "bulk");
    }
    if (!this.running) return;  // the feed told the end first
    this.running.id = answer.id;
    if (answer.status === "completed") return this.finish(answer);
    return this.follow(answer.id).catch((e) => this.refused(e));
  }

  busy(on) {
    for (const id of ["bulk-classify", "bulk-classify-status"]) $(id).disabled = on;
    $("bulk-progress").dataset.state = on ? "running" : "done";
  }

  progress(done, total) {
    $("bulk-progress").hidden = false;
    $("bulk-bar").max = Math.max(total, 1);
    $("bulk-bar").value = done;
    $("bulk-progress-text").textContent = `${done.toLocaleString("en")} of ${total.toLocaleString("en")} items`;
    Object.assign($("bulk-progress").dataset, { done, total });
  }

  /** Past the request's wait: the bulk's progress URL until it says completed (the feed
   * usually says it first). */
  async follow(id) {
    while (this.running && this.running.id === id) {
      const view = await api("GET", `/tasks/${this.taskId}/bulk/${id}`);
      if (view.state === "refused") {
        this.running = null;
        this.busy(false);
        return this.error(view.error.message, view.error.details, "bulk");
      }
      if (view.total) this.progress(view.done, view.total);
      if (view.state === "completed") return this.finish({ id, total: view.total });
      await wait(1000);
    }
  }

  /** A status's display name in this task. */
  statusName(s) {
    const a = this.task.availableActions.find((x) => x.action === s);
    return a ? a.displayName || s : s;
  }

  finish(summary) {
    if (!this.running || (this.running.id && this.running.id !== summary.id)) return;
    this.running = null;
    this.last = summary;
    this.progress(summary.total, summary.total);
    this.busy(false);
    $("bulk-result").replaceChildren(...resultView(summary, this.label, (s) => this.statusName(s)));
    Object.assign($("bulk-result").dataset, { state: "completed", bulkId: summary.id });
    $("bulk-undo").hidden = false;
    $("bulk-undo").disabled = false;
    if (this.dialog.open) $("bulk-undo").focus();
    this.done();
  }

  async undo() {
    const id = this.last.id;
    $("bulk-undo").disabled = true;
    let report = await api("POST", `/tasks/${this.taskId}/bulk/${id}/undo`);
    while (report.status !== "undone") {  // past the wait: the bulk says when it is undone
      await wait(500);
      const view = await api("GET", `/tasks/${this.taskId}/bulk/${id}`);
      if (view.state === "undone") report = { status: "undone", view };
    }
    $("bulk-undo").hidden = true;
    $("bulk-progress").hidden = true;
    $("bulk-result").replaceChildren(...await undoView(report, (item, items) => this.show(item, items)));
    Object.assign($("bulk-result").dataset, { state: "undone" });
    this.done();
  }

  /** The live feed of the task: this bulk's progress, and any other bulk's end (the grid is read again). */
  listen() {
    if (bulkOff(this.task)) return;
    const feed = new EventSource(`/api/v1/tasks/${this.taskId}/feed`, { withCredentials: true });
    const data = (e) => JSON.parse(e.data);
    feed.addEventListener("snapshot", () => { this.dialog.dataset.feed = "live"; });
    feed.addEventListener("BulkProgressed", (e) => {
      const f = data(e);
      if (!this.running || (this.running.id && this.running.id !== f.bulkId)) return;
      this.running.id = f.bulkId;
      this.progress(f.done, f.total);
    });
    feed.addEventListener("BulkCompleted", (e) => {
      const f = data(e);
      if (this.running && this.running.id === f.bulkId) this.finish({ id: f.bulkId, ...f });
      else if (!this.last || this.last.id !== f.bulkId) this.done();
    });
    feed.addEventListener("BulkUndone", (e) => { if (!this.last || this.last.id !== data(e).bulkId) this.done(); });
  }

  refused(e, from = "bulk") {
    return this.error(e.message, e.body && e.body.details, from);
  }

  /** The API's words, and the first offending items when it names them. */
  async error(message, details, from = "bulk") {
    const box = $("bulk-error");
    const gen = this.errors = (this.errors || 0) + 1;
    const parts = [el("p", {}, message)];
    if (details && Array.isArray(details.items) && details.items.length) {
      parts.push(await offenderList(details.items, details.count, (item) => this.show(item, details.items)));
    }
    if (gen !== this.errors) return;
    box.replaceChildren(...parts);
    box.dataset.from = from;
  }

  /** An offending item in the grid: the dialog closes, the grid shows it. */
  show(item, items) {
    this.dialog.close();
    this.reveal(item, items);
  }
}
