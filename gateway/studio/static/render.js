// What the studio shows: the item's position and neighbours, its labels as chips and as a
// list, the statuses, the Auto next toggles and the keys. Pure views of the page's state;
// the actions come in as callbacks.
import { el } from "/studio/static/api.js";
import { DESCRIPTIONS } from "/studio/static/keys.js";

const $ = (id) => document.getElementById(id);

/** The position in the assignment and the neighbours' thumbnails; `go(id)` opens one. */
export function renderPosition(S, go) {
  const at = S.order.indexOf(S.current);
  $("position").textContent = S.current && at >= 0 ? `Item ${at + 1} of ${S.order.length}` : "";
  const from = Math.max(0, at - 3);
  // a thumbnail the keyboard is on stays focused through the redraw (its item's link anew)
  const focused = document.activeElement?.closest?.("#strip a")?.dataset.itemId;
  $("strip").replaceChildren(...S.order.slice(from, at + 5).map((id, k) => el("li", {
    class: "thumb", "aria-current": id === S.current ? "true" : undefined,
    "data-status": S.statusOf.get(id) || "open",
  }, el("a", { href: `?item=${id}`, "data-item-id": id,
               title: `Item ${from + k + 1} (${S.statusOf.get(id) || "open"})`,
               onclick: (e) => { e.preventDefault(); go(id); } },
    el("img", { src: `/api/v1/items/${id}/thumbnail`, alt: `item ${from + k + 1}`,
                loading: "lazy", width: 64, height: 48 })))));
  if (focused) $("strip").querySelector(`a[data-item-id="${CSS.escape(focused)}"]`)?.focus();
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function renderAnnotations(S, annotations, on) {
  S.annotations = annotations;
  const colour = (a) => S.colours.get(a.label) || "#999";
  const tag = (a) => a.label.split(".").pop();
  const buttons = (a) => [
    el("button", { type: "button", class: "change", "aria-label": `Change ${tag(a)}`, title: "Change",
                   onclick: () => on.change(a) }, "✎"),
    el("button", { type: "button", class: "remove", "aria-label": `Remove ${tag(a)}`, title: "Remove",
                   onclick: () => on.remove(a) }, "×")];
  $("chips").replaceChildren(...annotations.map((a) => el("li", {
    class: "chip", style: `--c:${colour(a)}`, "data-label": a.label }, el("span", {}, tag(a)), ...buttons(a))));
  $("annotations").replaceChildren(...annotations.map((a) => {
    const attrs = Object.entries(a.metadata.system.attributes || {})
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ");
    return el("li", { class: "annotation", style: `--c:${colour(a)}`, "data-label": a.label },
      el("span", { class: "swatch", "aria-hidden": "true" }),
      el("div", {}, el("strong", {}, a.label.replaceAll(".", " › ")),
        attrs ? el("div", { class: "muted" }, attrs) : null,
        el("div", { class: "muted" }, `${a.creator} · ${when(a.createdAt)}`)),
      ...buttons(a));
  }));
  if (!annotations.length) $("annotations").append(el("li", { class: "muted" }, "None yet."));
}

export function renderStatuses(S, setStatus) {
  $("statuses").replaceChildren(...S.task.availableActions.map((s) => el("button", {
    type: "button", class: "status", style: `--c:${s.color || "#777"}`, "data-status": s.action,
    "aria-pressed": S.status === s.action ? "true" : "false",
    "aria-keyshortcuts": S.keymap[`status:${s.action}`],
    onclick: () => setStatus(s.action),
  }, `${s.displayName || s.action}`, S.keymap[`status:${s.action}`]
    ? el("kbd", { class: "key" }, S.keymap[`status:${s.action}`]) : null)));
  $("stage").dataset.status = S.status || "";
}

export function renderToggles(settings) {
  const next = $("auto-next"), complete = $("auto-complete");
  next.checked = settings.autoNext;
  complete.checked = settings.autoComplete;
  next.disabled = complete.disabled = !settings.autoNextAvailable;
  complete.disabled ||= !settings.autoCompleteAvailable;
  $("auto-complete-label").hidden = !settings.autoNext;
  const reason = !settings.autoNextAvailable
    ? "Auto next and Auto complete work only in single-class tasks."
    : !settings.autoCompleteAvailable ? "Auto complete needs the task's completed status." : "";
  $("auto-reason").textContent = reason;
  $("auto-reason").hidden = !reason;
  for (const box of [next, complete]) box.setAttribute("aria-describedby", reason ? "auto-reason" : "");
}

export function help(S, labelOf) {
  const rows = Object.entries(S.keymap).filter(([, key]) => key).map(([action, key]) => {
    let what = DESCRIPTIONS[action] || action;
    if (action.startsWith("label:")) {
      const label = labelOf(action);
      if (!label) return null;
      what = `label ${label.path.replaceAll(".", " › ")}`;
    } else if (action.startsWith("status:")) what = `status ${action.slice(7)} (again: clear it)`;
    if (action === "done" && S.task.singleClass) return null;
    return el("tr", {}, el("th", {}, el("kbd", {}, key)), el("td", {}, what));
  });
  rows.push(el("tr", {}, el("th", {}, el("kbd", {}, "+ / − / 0")), el("td", {}, "zoom in, out, fit (on the image)")));
  rows.push(el("tr", {}, el("th", {}, el("kbd", {}, "↑ ↓ Enter")), el("td", {}, "move in the labels, pick one")));
  $("help-keys").replaceChildren(...rows.filter(Boolean));
  $("help").showModal();
}
