// What the video studio lists: the chips of the scenes visible at a frame, the scene list with
// ranges and hidden stretches, and the selected scene's tools. Views of the page's state; the
// actions come in as callbacks.
import { el } from "/studio/static/api.js";
import { partAt } from "/studio/static/timeline.js";

const $ = (id) => document.getElementById(id);
const tag = (path) => path.split(".").pop();

export function selectedOf(S) {
  return S.scenes.find((s) => s.id === S.selected) || null;
}

export function renderChips(S, frame, colourOf) {
  const shown = S.scenes.map((s) => [s, partAt(s, frame)]).filter(([, p]) => p && !p.hidden);
  $("chips").replaceChildren(...shown.map(([s, p]) => el("li", {
    class: "chip", style: `--c:${colourOf(p.label)}`, "data-label": p.label, "data-id": s.id,
    "aria-current": s.id === S.selected ? "true" : undefined,
  }, el("span", {}, tag(p.label)))));
}

export function range(s) {
  const hidden = s.parts.filter((p) => p.hidden).map((p) => `${p.first}–${p.last}`);
  return `frames ${s.start}–${s.end}${s.open ? " (to the end)" : ""}` +
    (hidden.length ? ` · hidden ${hidden.join(", ")}` : "");
}

export function renderList(S, colourOf, on) {
  $("annotations").replaceChildren(...S.scenes.map((s) => el("li", {
    class: "annotation scene-entry", style: `--c:${colourOf(s.label)}`, "data-id": s.id,
    "data-label": s.label, "aria-current": s.id === S.selected ? "true" : undefined,
  }, el("span", { class: "swatch", "aria-hidden": "true" }),
     el("div", {}, el("button", { type: "button", class: "link-like", onclick: () => on.select(s) },
                      el("strong", {}, s.label.replaceAll(".", " › "))),
        el("div", { class: "muted range" }, range(s)), el("div", { class: "muted" }, s.creator)),
     el("button", { type: "button", class: "remove", title: "Delete", "aria-label": `Delete ${tag(s.label)} scene`,
                    onclick: () => on.remove(s) }, "×"))));
  if (!S.scenes.length) $("annotations").append(el("li", { class: "muted" }, "None yet."));
}

export function renderSelected(S) {
  const s = selectedOf(S);
  $("selected").textContent = s ? `${s.label.replaceAll(".", " › ")}: ${range(s)}` : "None: click a bar or a scene below.";
  for (const id of ["set-end", "move-start", "change-label", "delete-scene", "hide", "unhide"]) $(id).disabled = !s;
  $("studio").dataset.selected = S.selected || "";
}

