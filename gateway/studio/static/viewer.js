// The item's image, fit to the stage; wheel or +/- zoom, drag pans, 0 fits again.
// Preloaded images are decoded before they are shown, so a swap paints at once.

export class Viewer {
  /** @param {HTMLElement} stage */
  constructor(stage) {
    Object.assign(this, { stage, scale: 1, x: 0, y: 0, img: null });
    stage.addEventListener("wheel", (e) => { e.preventDefault(); this.zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2); },
                           { passive: false });
    stage.addEventListener("pointerdown", (e) => this.drag(e));
    stage.addEventListener("keydown", (e) => {
      if (e.key === "+" || e.key === "=") { e.preventDefault(); this.zoom(1.2); }
      else if (e.key === "-") { e.preventDefault(); this.zoom(1 / 1.2); }
      else if (e.key === "0") { e.preventDefault(); this.fit(); }
    });
  }

  /** Show `img` (an HTMLImageElement, best already decoded) fit to the stage. */
  show(img, alt) {
    img.alt = alt;
    img.draggable = false;
    this.img = img;
    this.stage.replaceChildren(img);
    this.fit();
  }

  clear() {
    this.img = null;
    this.stage.replaceChildren();
  }

  fit() {
    this.scale = 1; this.x = 0; this.y = 0;
    this.apply();
  }

  zoom(by) {
    this.scale = Math.min(20, Math.max(0.2, this.scale * by));
    this.apply();
  }

  drag(e) {
    if (!this.img || e.button !== 0) return;
    const start = { x: e.clientX - this.x, y: e.clientY - this.y };
    const move = (m) => { this.x = m.clientX - start.x; this.y = m.clientY - start.y; this.apply(); };
    const up = () => { removeEventListener("pointermove", move); removeEventListener("pointerup", up); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
  }

  apply() {
    if (this.img) this.img.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.stage.dataset.zoom = this.scale.toFixed(2);
  }
}

/** Preloads items' images by id: `get(id)` is a promise of a decoded HTMLImageElement. */
export class Preloader {
  constructor(limit = 8) {
    Object.assign(this, { limit, images: new Map() });
  }

  /** @param {string} id @param {"high" | "low" | "auto"} priority the fetch's, among the rest */
  get(id, priority = "auto") {
    let entry = this.images.get(id);
    if (!entry) {
      const img = new Image();
      img.fetchPriority = priority;
      img.src = `/api/v1/items/${id}/stream`;
      entry = { img, ready: img.decode().then(() => img, () => img) };
      this.images.set(id, entry);
      while (this.images.size > this.limit) this.images.delete(this.images.keys().next().value);
    }
    return entry.ready;
  }

  /** The image at once when decoded already, else null. */
  now(id) {
    const entry = this.images.get(id);
    return entry && entry.img.complete && entry.img.naturalWidth ? entry.img : null;
  }

  /** Another element for an image shown before (an element lives in one place). */
  take(id) {
    const entry = this.images.get(id);
    this.images.delete(id);
    return entry;
  }
}
