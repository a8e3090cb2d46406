// The task browser's view: one item as a tile (thumbnail, name, status in the task in its
// colour, class chips in the recipe's colours) and the view preferences (thumbnail size,
// items per page) read from and saved to the user's preferences (/users/me/preferences).
import { api, el, toast } from "/studio/static/api.js";

export const SIZES = [64, 96, 128, 192, 256];
const $ = (id) => document.getElementById(id);
const tag = (label) => label.split(".").pop();

/** @param {{focused: boolean, selected: boolean, offender: boolean, colours: Map<string,string>,
 *           status: {action: string, displayName?: string, color?: string} | null}} o */
export function tile(item, o) {
  const stateText = o.status ? o.status.displayName || o.status.action : item.status || "no status";
  const chips = item.classes.map((c) => el("li", { class: "chip", style: `--c:${o.colours.get(c.label) || "#999"}`,
                                                   "data-label": c.label }, tag(c.label)));
  const classes = item.classes.map((c) => tag(c.label)).join(", ");
  const folder = item.dir && item.dir !== "/" ? `${item.dir}/` : "";
  return el("div", {
    role: "option", class: "tile", id: `tile-${item.id}`, tabindex: o.focused ? 0 : -1,
    "aria-selected": o.selected ? "true" : "false", "data-id": item.id,
    "data-status": item.status || "none", "data-offender": o.offender ? "true" : undefined,
    "aria-label": `${item.name}, ${stateText}${classes ? ", " + classes : ""}`,
    title: `${folder}${item.name}${item.assignee ? " · " + item.assignee : ""}`,
  },
  el("div", { class: "thumb-box" },
     el("img", { src: item.thumbnail, alt: "", loading: "lazy", draggable: "false" }),
     el("span", { class: "tick", "aria-hidden": "true" }, "✓")),
  el("div", { class: "tile-name" }, item.name),
  el("div", { class: "tile-meta" },
     el("span", { class: `tile-status${o.status ? "" : " none"}`,
                  style: o.status ? `--c:${o.status.color || "#777"}` : undefined }, stateText)),
  chips.length ? el("ul", { class: "tile-chips", "aria-hidden": "true" }, ...chips) : null);
}

/** Thumbnail size and items per page: shown in the toolbar, kept on the server. */
export class ViewPrefs {
  constructor() {
    this.values = { thumbnailSize: 128, pageSize: 50 };
    this.saving = Promise.resolve();
  }

  apply() {
    const size = this.values.thumbnailSize;
    $("size").value = String(Math.max(0, SIZES.indexOf(size)));
    $("size-out").textContent = `${size} px`;
    $("size").setAttribute("aria-valuetext", `${size} pixels`);
    $("grid").style.setProperty("--size", `${size}px`);
    $("grid").dataset.size = String(size);
  }

  async load() {
    try {
      Object.assign(this.values, await api("GET", "/users/me/preferences"));
    } catch (e) {
      toast(`Your saved view could not be read: ${e.message}`);
    }
    if (!SIZES.includes(this.values.thumbnailSize)) this.values.thumbnailSize = 128;
    $("page-size").value = String(this.values.pageSize);
    this.apply();
  }

  /** Saved one after the other, so the last change is the one kept. */
  save() {
    const body = { thumbnailSize: this.values.thumbnailSize, pageSize: this.values.pageSize };
    this.saving = this.saving.then(() => api("PUT", "/users/me/preferences", body))
      .then((saved) => { $("browse").dataset.saved = `${saved.thumbnailSize}/${saved.pageSize}`; })
      .catch((e) => toast(`Your view was not saved: ${e.message}`));
  }
}
