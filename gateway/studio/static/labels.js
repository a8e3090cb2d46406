// The recipe's labels as a WAI-ARIA tree (recipe colours, hierarchy, type-to-filter, the
// hotkeys shown on the buttons) and the attributes of a label as inputs of their types.
import { el } from "/studio/static/api.js";

/** @typedef {{path: string, tag: string, color: string, depth: number, key?: string}} Label */

/** The labels in recipe order (depth first), each with its full dotted path. */
export function flatten(roots, parent = "", depth = 1, out = []) {
  for (const node of roots) {
    const tag = node.value.tag;
    const path = parent ? `${parent}.${tag}` : tag;
    out.push({ path, tag, color: node.value.color || "#999999", depth,
               hasChildren: (node.children || []).length > 0 });
    flatten(node.children || [], path, depth + 1, out);
  }
  return out;
}

export class LabelTree {
  /** @param {HTMLElement} tree @param {HTMLInputElement} filter @param {(l: Label) => void} onPick */
  constructor(tree, filter, labels, onPick) {
    Object.assign(this, { tree, filter, labels, onPick, active: 0 });
    filter.addEventListener("input", () => this.render());
    filter.addEventListener("keydown", (e) => this.keys(e, true));
    tree.addEventListener("keydown", (e) => this.keys(e, false));
    tree.addEventListener("focus", () => this.focusActive());
  }

  visible() {
    const q = this.filter.value.trim().toLowerCase();
    return q ? this.labels.filter((l) => l.path.toLowerCase().includes(q)) : this.labels;
  }

  render() {
    const shown = this.visible();
    this.active = Math.min(this.active, Math.max(shown.length - 1, 0));
    if (this.filter.value.trim()) this.active = 0;
    this.tree.replaceChildren(...shown.map((label, i) => el("li", {
      role: "treeitem", id: `label-${i}`, "aria-level": label.depth, tabindex: -1,
      "aria-selected": i === this.active ? "true" : "false", "data-path": label.path,
      "aria-keyshortcuts": label.key || undefined, "aria-expanded": label.hasChildren ? "true" : undefined,
      class: "label", style: `--c:${label.color};--depth:${label.depth - 1}`,
      onclick: () => this.onPick(label),
    }, el("span", { class: "swatch", "aria-hidden": "true" }),
       el("span", { class: "name" }, label.tag),
       label.key ? el("kbd", { class: "key" }, label.key) : null)));
    this.tree.setAttribute("aria-activedescendant", shown.length ? `label-${this.active}` : "");
  }

  focusActive() {
    this.tree.querySelector(`#label-${this.active}`)?.scrollIntoView({ block: "nearest" });
  }

  move(by) {
    const n = this.visible().length;
    if (!n) return;
    this.active = (this.active + by + n) % n;
    this.tree.querySelectorAll("[role=treeitem]").forEach((node, i) =>
      node.setAttribute("aria-selected", i === this.active ? "true" : "false"));
    this.tree.setAttribute("aria-activedescendant", `label-${this.active}`);
    this.focusActive();
  }

  /** Arrows move, Enter picks, Escape leaves the filter; in the tree, letters filter. */
  keys(e, inFilter) {
    const stop = () => { e.preventDefault(); e.stopPropagation(); };
    if (e.key === "ArrowDown") { stop(); this.move(1); }
    else if (e.key === "ArrowUp") { stop(); this.move(-1); }
    else if (e.key === "Enter") {
      stop();
      const label = this.visible()[this.active];
      if (label) this.onPick(label);
      this.filter.value = "";
      this.render();
      document.getElementById("stage")?.focus();
    } else if (e.key === "Escape") {
      stop();
      this.filter.value = "";
      this.render();
      document.getElementById("stage")?.focus();
    } else if (!inFilter && e.key.length === 1 && /\p{L}/u.test(e.key) && !e.ctrlKey && !e.metaKey) {
      stop();  // type-ahead: the letters go to the filter
      this.filter.focus();
      this.filter.value += e.key;
      this.render();
    } else if (inFilter) {
      e.stopPropagation();  // typing in the filter is not a command
    }
  }
}

/** Whether attribute definition `a` applies to label path `path` (as shared/labels.py). */
export function inScope(a, path) {
  const scope = a.scope || ["*"];
  if (scope.includes("*")) return true;
  const parts = path.split(".");
  const names = new Set(parts);
  parts.forEach((_, i) => names.add(parts.slice(0, i + 1).join(".")));
  return scope.some((s) => names.has(s));
}

function input(a, value) {
  const id = `attr-${a.key}`;
  const title = `${a.title || a.key}${a.optional === false ? " (required)" : ""}`;
  if (a.type === "options" && a.multi) {
    return el("fieldset", { "data-key": a.key, "data-type": "multi" }, el("legend", {}, title),
      ...a.values.map((v) => el("label", {}, el("input", { type: "checkbox", value: v,
        checked: Array.isArray(value) && value.includes(v) }), ` ${v}`)));
  }
  let control;
  if (a.type === "options") {
    control = el("select", { id }, el("option", { value: "" }, "—"),
      ...a.values.map((v) => el("option", { value: v, selected: v === value }, v)));
  } else if (a.type === "boolean") {
    control = el("select", { id }, el("option", { value: "" }, "—"),
      el("option", { value: "true", selected: value === true }, "yes"),
      el("option", { value: "false", selected: value === false }, "no"));
  } else if (a.type === "range") {
    const r = a.range || {};
    control = el("input", { id, type: "number", min: r.min, max: r.max, step: r.step || "any",
                            value: value ?? "" });
  } else {
    control = el("input", { id, type: "text", value: value ?? "" });
  }
  if (a.optional === false) control.setAttribute("aria-required", "true");
  return el("div", { class: "attr", "data-key": a.key, "data-type": a.type },
    el("label", { for: id }, title), control);
}

/** The attributes form: `show(label, values)` lists the label's attributes; `read()` gives
 * {values, missing} (missing: titles of required attributes without a value). */
export class AttributeForm {
  constructor(form, heading, definitions) {
    Object.assign(this, { form, heading, definitions, label: null });
  }

  show(label, values = {}) {
    this.label = label;
    this.heading.textContent = label ? `for ${label.tag}` : "";
    const defs = this.definitions.filter((a) => inScope(a, label ? label.path : "*"));
    this.form.replaceChildren(...defs.map((a) => input(a, values[a.key])));
    if (!defs.length) this.form.append(el("p", { class: "muted" }, "No attributes."));
    this.defs = defs;
  }

  read() {
    const values = {}, missing = [];
    for (const a of this.defs || []) {
      const box = this.form.querySelector(`[data-key="${CSS.escape(a.key)}"]`);
      let value;
      if (a.type === "options" && a.multi) {
        const picked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        value = picked.length ? picked : undefined;
      } else {
        const raw = box.querySelector("input, select").value;
        if (raw !== "") value = a.type === "boolean" ? raw === "true" : a.type === "range" ? Number(raw) : raw;
      }
      if (value !== undefined) values[a.key] = value;
      else if (a.optional === false) missing.push(a);
    }
    return { values, missing };
  }
}
