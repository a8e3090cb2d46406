// The task browser's selection: items picked one by one (click, Ctrl/Cmd+click, Shift+click
// ranges, the page) or every item matching the filter, across pages. "All matching" stays a
// filter (the bulk is sent the filter, not ids) until it is edited item by item: then its ids
// are read once (GET …/items/ids) and it becomes an ordinary set.

export class Selection {
  /** @param {(query: string) => Promise<string[]>} idsOf the ids matching a filter query */
  constructor(idsOf, onChange) {
    Object.assign(this, { idsOf, onChange, ids: new Set(), all: null, anchor: null });
  }

  /** Every item matching `query` (its bulk `filter` and its `total`). */
  selectAll(query, filter, total) {
    this.ids = new Set();
    this.all = { query, filter, total };
    this.onChange();
  }

  clear() {
    this.ids = new Set();
    this.all = null;
    this.anchor = null;
    this.onChange();
  }

  has(id) {
    return this.all ? true : this.ids.has(id);
  }

  get count() {
    return this.all ? this.all.total : this.ids.size;
  }

  /** What a bulk is sent: `{filter}` for all matching, else `{itemIds}`. */
  body() {
    return this.all ? { filter: this.all.filter } : { itemIds: [...this.ids] };
  }

  /** Before an edit item by item, "all matching" becomes its ids. */
  async materialise() {
    if (!this.all) return;
    const ids = await this.idsOf(this.all.query);
    this.all = null;
    this.ids = new Set(ids);
  }

  async only(id) {
    this.all = null;
    this.ids = new Set([id]);
    this.anchor = id;
    this.onChange();
  }

  async toggle(id) {
    await this.materialise();
    if (this.ids.has(id)) this.ids.delete(id); else this.ids.add(id);
    this.anchor = id;
    this.onChange();
  }

  async add(ids) {
    if (this.all) return;
    for (const id of ids) this.ids.add(id);
    this.onChange();
  }

  /** Shift+click: the items from the anchor to `id` on the page (`order`), replacing the
   * selection, or added to it (`keep`, with Ctrl/Cmd). */
  async range(order, id, keep) {
    await this.materialise();
    const from = order.indexOf(this.anchor ?? id), to = order.indexOf(id);
    const span = from < 0 ? [id] : order.slice(Math.min(from, to), Math.max(from, to) + 1);
    if (!keep) this.ids = new Set();
    for (const x of span) this.ids.add(x);
    if (this.anchor === null || from < 0) this.anchor = id;
    this.onChange();
  }

  /** "3 selected" / "All 12,000 matching selected". */
  describe() {
    const n = this.count.toLocaleString("en");
    return this.all ? `All ${n} matching items selected` : `${n} selected`;
  }
}

/** Where the arrow keys go in a wrapping grid of `n` tiles with `columns` per row. */
export function step(key, at, n, columns) {
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, ArrowDown: at + columns, ArrowUp: at - columns,
               Home: 0, End: n - 1 }[key];
  return to === undefined ? null : Math.max(0, Math.min(n - 1, to));
}

/** How many tiles the grid shows per row (from their positions on screen). */
export function columnsOf(grid) {
  const tiles = grid.children;
  if (!tiles.length) return 1;
  const top = tiles[0].offsetTop;
  let k = 0;
  while (k < tiles.length && tiles[k].offsetTop === top) k++;
  return Math.max(k, 1);
}
