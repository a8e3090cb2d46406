// The studio's key map: defaults (labels 1–9 in recipe order, status letters, arrows,
// d, Ctrl+Z, ?) overridden by the user's own from GET /users/me/keymap when it exists.
import { api } from "/studio/static/api.js";

export const DESCRIPTIONS = {
  next: "next item", previous: "previous item", done: "done: complete the item and go on",
  undo: "undo the last decision", help: "show the keys", filter: "filter the labels (type, then Enter)",
};

/** A key event in the key map's spelling (gateway/keymap.py), lower case: "ctrl+z",
 * "arrowright", "shift+c", "space", "?". */
export function keyOf(e) {
  const key = e.key === " " ? "Space" : e.key;
  const named = key.length > 1, letter = /^[a-z]$/i.test(key);
  const mods = [e.ctrlKey && "Ctrl", e.altKey && "Alt", e.shiftKey && (named || letter) && "Shift",
                e.metaKey && "Meta"].filter(Boolean);
  return [...mods, key].join("+").toLowerCase();
}

function defaults(statuses) {
  const map = { next: "ArrowRight", previous: "ArrowLeft", done: "Enter", undo: "Ctrl+z", help: "?",
                filter: "/" };
  for (let i = 1; i <= 9; i++) map[`label:${i}`] = String(i);
  const taken = new Set(["z"]);
  const preferred = { completed: "c", discard: "x" };
  for (const s of statuses) {
    const key = preferred[s.action] && !taken.has(preferred[s.action]) ? preferred[s.action]
      : [...s.action.toLowerCase()].find((ch) => /[a-z]/.test(ch) && !taken.has(ch));
    if (key) { taken.add(key); map[`status:${s.action}`] = key; }
  }
  return map;
}

/** {action: key} for this task, the user's bindings over the defaults. */
export async function loadKeymap(statuses) {
  const map = defaults(statuses);
  try {
    const mine = await api("GET", "/users/me/keymap");
    if (mine && mine.custom) return { filter: "/", ...mine.bindings };  // actions left out: no key
    Object.assign(map, (mine && mine.bindings) || {});
  } catch { /* no key map API or none saved: the defaults */ }
  return map;
}

/** key (as keyOf gives it) -> action */
export function byKey(map) {
  const out = new Map();
  for (const [action, key] of Object.entries(map)) if (key) out.set(String(key).toLowerCase(), action);
  return out;
}

/** The recipe's own label hotkeys (`displayData.hotkey`, set in the recipe editor) added to
 * `map` as `label:<path>` bindings, each where its key is still free and the user has not
 * bound that label. */
export function withRecipeHotkeys(map, roots, parent = "") {
  for (const node of roots || []) {
    const path = parent ? `${parent}.${node.value.tag}` : node.value.tag;
    const key = node.value.displayData?.hotkey;
    if (key && !map[`label:${path}`] && !byKey(map).has(String(key).toLowerCase())) map[`label:${path}`] = key;
    withRecipeHotkeys(map, node.children, path);
  }
  return map;
}
