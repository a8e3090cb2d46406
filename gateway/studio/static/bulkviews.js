// What the classification tool says: the preview's counts, the counts of a bulk done, the
// undo's report, and a refusal's first offending items (buttons that show them in the grid).
import { api, el } from "/studio/static/api.js";

const n = (x) => (x ?? 0).toLocaleString("en");
const items = (k) => `${n(k)} item${k === 1 ? "" : "s"}`;
const SHOWN = 10;

export function previewView(p, label, status, statusName = (s) => s) {
  const tag = label.path.replaceAll(".", " › ");
  const lines = [
    el("li", { "data-k": "classify" }, el("strong", {}, "Classify: "),
       `${items(p.total - p.alreadyClassified)} get ${tag}; ${items(p.alreadyClassified)} already hold it.`)];
  if (status) {
    const name = status.displayName || status.action;
    lines.push(el("li", { "data-k": "status" }, el("strong", {}, `Classify & Set Status (${name}): `),
      `${items(p.wouldChange)} change; ${items(p.statusOverwritten)} holding another status ${p.statusOverwritten === 1 ? "gets" : "get"} ${name} instead.`));
    const before = Object.entries(p.statusesBefore || {}).sort((a, b) => b[1] - a[1]);
    if (before.length) {
      lines.push(el("li", { "data-k": "statuses-before" }, `Statuses that change to ${name}: `,
        before.map(([s, k]) => `${s === "none" ? "no status" : statusName(s)} (${n(k)})`).join(", "), "."));
    }
  }
  const held = p.heldByOthers || {};
  if (held.count) {
    const who = Object.entries(held.byAnnotator || {}).map(([a, k]) => `${a} (${n(k)})`).join(", ");
    lines.push(el("li", { class: "muted" }, `${items(held.count)} in others' assignments: ${who}.`));
  }
  return [el("p", {}, el("strong", {}, items(p.total)), " selected."), el("ul", {}, ...lines)];
}

export function resultView(r, label, statusName = (s) => s) {
  const what = label ? label.path.replaceAll(".", " › ") : "the label";
  if (r.classified === undefined) return [el("p", {}, `Done: ${items(r.total)} hold ${what}.`)];
  const parts = [`${n(r.classified)} classified as ${what}`, `${n(r.unchanged)} already held it`];
  if (r.replaced) parts.push(`${n(r.replaced)} replaced another class`);
  const st = r.statuses || {};
  if (st.status) parts.push(`${n(st.changed)} set to ${statusName(st.status)}`);
  return [el("p", {}, el("strong", {}, `Done: ${items(r.total)}. `), parts.join(" · "), ".")];
}

export async function undoView(r, show) {
  if (r.view) {  // followed past the wait: the bulk's own record of its undo
    const u = r.view.undo || {};
    const conflicts = [...(u.classConflicts || []), ...(u.statusConflicts || [])];
    return [el("p", {}, el("strong", {}, "Undone."), " The bulk's classes and statuses are back as they were."),
            conflicts.length ? await offenderList(conflicts, conflicts.length, show, "changed since the bulk: left as they are") : null];
  }
  const st = r.statuses || {};
  const out = [el("p", {}, el("strong", {}, "Undone: "),
    `${n(r.removed)} classes removed, ${n(r.restored)} earlier classes restored, ${n(st.restored)} statuses restored.`)];
  const classes = r.conflicts || {}, statuses = st.conflicts || {};
  if (classes.count) out.push(await offenderList(classes.items, classes.count, show, "with a class changed since the bulk: left as they are"));
  if (statuses.count) out.push(await offenderList(statuses.items, statuses.count, show, "with a status changed since the bulk: left as they are"));
  return out;
}

/** The first offending items by name (read first); a click shows one in the grid. */
export async function offenderList(ids, count, show, what = "refused") {
  const shown = ids.slice(0, SHOWN);
  const names = await Promise.all(shown.map((id) => api("GET", `/items/${id}`).then((i) => i.name, () => id)));
  const list = el("ul", { class: "offenders" }, ...shown.map((id, k) => el("li", {},
    el("button", { type: "button", class: "link-button", "data-item": id, onclick: () => show(id, ids) }, names[k]))));
  const more = count > SHOWN ? ` (the first ${SHOWN} shown)` : "";
  return el("div", { class: "offender-box" },
    el("p", {}, `${items(count)} ${what}${more}. Click one to see it in the grid:`), list);
}
