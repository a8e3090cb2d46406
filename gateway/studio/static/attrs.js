// The recipe editor's attribute definitions (Dataloop attributes 2.0): one row per attribute,
// its inputs following its type: options (values, multi), range (min, max, step), boolean,
// free text; required or not; the labels it applies to (scope, `*` for all).
import { el } from "/studio/static/api.js";

const TYPES = [["options", "options"], ["range", "range"], ["boolean", "yes / no"], ["freeText", "free text"]];

function field(label, input) {
  return el("label", {}, label, input);
}

export function attrRow(a, onChange) {
  const n = Math.random().toString(36).slice(2, 7);
  const key = el("input", { type: "text", value: a.key, name: "key", required: true });
  const title = el("input", { type: "text", value: a.title || "", name: "title" });
  const type = el("select", { name: "type" }, ...TYPES.map(([v, t]) => el("option", { value: v, selected: v === a.type }, t)));
  const required = el("input", { type: "checkbox", name: "required", checked: a.optional === false });
  const values = el("input", { type: "text", name: "values", value: (a.values || []).join(", "), placeholder: "red, green, blue" });
  const multi = el("input", { type: "checkbox", name: "multi", checked: !!a.multi });
  const min = el("input", { type: "number", name: "min", step: "any", value: a.range?.min ?? 0 });
  const max = el("input", { type: "number", name: "max", step: "any", value: a.range?.max ?? 10 });
  const stepIn = el("input", { type: "number", name: "step", step: "any", value: a.range?.step ?? 1 });
  const scope = el("input", { type: "text", name: "scope", value: (a.scope || ["*"]).join(", ") });
  const optionsPart = el("span", { class: "wide", "data-for": "options" },
    field("Values (comma-separated)", values),
    el("label", { class: "choice" }, multi, "several may be picked"));
  const rangePart = el("span", { class: "wide", "data-for": "range" },
    field("Minimum", min), field("Maximum", max), field("Step", stepIn));
  const row = el("fieldset", { class: "attr-row", "data-attr": a.key || "new" },
    el("legend", {}, a.key ? `Attribute ${a.key}` : "New attribute"),
    field("Key", key), field("Title", title), field("Type", type),
    field("Labels it applies to (paths, or *)", scope),
    el("span", { class: "buttons" },
      el("label", { class: "choice" }, required, "required"),
      el("button", { type: "button", class: "danger", "aria-label": `Delete attribute ${a.key || "new"}`,
                     onclick: () => { row.remove(); onChange(); } }, "Delete")),
    optionsPart, rangePart);
  for (const input of [key, title, values, min, max, stepIn, scope]) input.setAttribute("id", `${input.name}-${n}`);
  const show = () => {
    optionsPart.hidden = type.value !== "options";
    rangePart.hidden = type.value !== "range";
  };
  type.addEventListener("change", show);
  row.addEventListener("change", onChange);
  key.addEventListener("input", () => { row.querySelector("legend").textContent = `Attribute ${key.value}`; });
  show();
  return row;
}

/** The rows as attribute definitions for the ontology PUT. */
export function readAttrs(box) {
  return [...box.querySelectorAll(".attr-row")].map((row) => {
    const v = (name) => row.querySelector(`[name=${name}]`);
    const type = v("type").value;
    const out = { key: v("key").value.trim(), title: v("title").value.trim() || v("key").value.trim(), type,
                  optional: !v("required").checked,
                  scope: v("scope").value.split(",").map((s) => s.trim()).filter(Boolean) };
    if (!out.scope.length) out.scope = ["*"];
    if (type === "options") {
      out.values = v("values").value.split(",").map((s) => s.trim()).filter(Boolean);
      out.multi = v("multi").checked;
    }
    if (type === "range") {
      out.range = { min: Number(v("min").value), max: Number(v("max").value) };
      if (v("step").value) out.range.step = Number(v("step").value);
    }
    return out;
  });
}
