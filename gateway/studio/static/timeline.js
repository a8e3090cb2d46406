// The timeline under the player: a ruler, one lane per scene (its visible stretches as bars in
// the label's colour, hidden stretches as gaps, an open end marked as running to the end), and
// the playhead. Click a bar to select its scene, click elsewhere to seek, drag a bar's ends to
// move them (the frame shown while dragging), zoom for long videos.
import { el } from "/studio/static/api.js";

/** @typedef {{first: number, last: number, label: string, hidden: boolean}} Part */
/** @typedef {{id: string, label: string, start: number, end: number, open: boolean,
 *             parts: Part[], creator: string}} Scene */

/** The scene a Dataloop class annotation of a video describes (its label and hidden stretches
 * from its key frames, `snapshots_`); null for an annotation that is not a scene. */
export function sceneOf(a, lastFrame) {
  const sys = (a.metadata || {}).system || {};
  if (a.type !== "class" || !Number.isInteger(sys.frame) || !Number.isInteger(sys.endFrame)) return null;
  const parts = [];
  let from = sys.frame, label = a.label, hidden = false;
  const snaps = [...(sys.snapshots_ || [])].sort((x, y) => x.frame - y.frame);
  for (const s of snaps) {
    if (s.frame > from) parts.push({ first: from, last: s.frame - 1, label, hidden });
    from = s.frame;
    label = s.label || label;
    hidden = s.objectVisible === false;
  }
  parts.push({ first: from, last: sys.endFrame, label, hidden });
  return { id: a.id, label: a.label, start: sys.frame, end: sys.endFrame, open: sys.endFrame === lastFrame,
           parts, creator: a.creator, attributes: sys.attributes || {} };
}

/** The part of `scene` at `frame`, or null outside it. */
export function partAt(scene, frame) {
  return scene.parts.find((p) => p.first <= frame && frame <= p.last) || null;
}

const ZOOMS = [1, 2, 4, 8, 16, 32];

export class Timeline {
  /**
   * @param {HTMLElement} root
   * @param {{frames: number, colourOf: (label: string) => string, onSelect: (s: Scene) => void,
   *          onSeek: (frame: number) => void, onDrag: (s: Scene, edge: "start"|"end", frame: number) => void}} o
   */
  constructor(root, o) {
    Object.assign(this, o, { root, zoom: 1, scenes: [], selected: null, frame: 0 });
    this.inner = el("div", { class: "tl-inner" });
    this.ruler = el("div", { class: "tl-ruler", "aria-hidden": "true" });
    this.lanes = el("div", { class: "tl-lanes" });
    this.head = el("div", { class: "tl-playhead", "aria-hidden": "true" });
    this.tip = el("div", { class: "tl-tip", role: "status", hidden: true });
    this.inner.append(this.ruler, this.lanes, this.head, this.tip);
    root.replaceChildren(this.inner);
    this.inner.addEventListener("click", (e) => {
      if (e.target.closest(".tl-scene") || this.dragged) return;
      this.onSeek(this.frameAtX(e.clientX));
    });
    new ResizeObserver(() => this.render()).observe(root);
  }

  /** Pixels per frame at this zoom. */
  get ppf() {
    return Math.max(1, this.root.clientWidth - 2) * this.zoom / this.frames;
  }

  frameAtX(clientX) {
    const x = clientX - this.inner.getBoundingClientRect().left;
    return Math.min(this.frames - 1, Math.max(0, Math.floor(x / this.ppf)));
  }

  x(frame) {
    return frame * this.ppf;
  }

  setZoom(by) {
    const at = ZOOMS.indexOf(this.zoom) + by;
    this.zoom = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, at))];
    this.render();
    this.follow();
    return this.zoom;
  }

  update(scenes, selected) {
    this.scenes = scenes;
    this.selected = selected;
    this.render();
  }

  render() {
    const ppf = this.ppf;
    this.inner.style.width = `${this.frames * ppf}px`;
    this.root.dataset.zoom = String(this.zoom);
    this.renderRuler(ppf);
    this.lanes.replaceChildren(...this.scenes.map((s) => this.lane(s, ppf)));
    if (!this.scenes.length) this.lanes.append(el("div", { class: "tl-empty muted" }, "No scenes yet: pick a label to start one here."));
    this.setFrame(this.frame);
  }

  renderRuler(ppf) {
    const every = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500].find((n) => n * ppf >= 48) || 5000;
    const ticks = [];
    for (let f = 0; f < this.frames; f += every) {
      ticks.push(el("span", { class: "tl-tick", style: `left:${f * ppf}px` }, String(f)));
    }
    this.ruler.replaceChildren(...ticks);
  }

  lane(s, ppf) {
    const bar = el("div", {
      class: "tl-scene", "data-id": s.id, "data-start": s.start, "data-end": s.end,
      "data-open": s.open ? "true" : "false", "aria-selected": s.id === this.selected ? "true" : "false",
      title: `${s.label.split(".").pop()}: frames ${s.start}–${s.end}${s.open ? " (to the end)" : ""}`,
      style: `left:${s.start * ppf}px;width:${(s.end - s.start + 1) * ppf}px`,
      onclick: (e) => { e.stopPropagation(); if (!this.dragged) this.onSelect(s); },
    }, ...s.parts.map((p) => el("div", {
      class: p.hidden ? "tl-gap" : "tl-seg", "data-first": p.first, "data-last": p.last,
      "data-label": p.label,
      style: `left:${(p.first - s.start) * ppf}px;width:${(p.last - p.first + 1) * ppf}px;--c:${this.colourOf(p.label)}`,
    })), el("div", { class: "tl-handle tl-start", "data-edge": "start", title: "Drag to move the start",
                     onpointerdown: (e) => this.drag(e, s, "start") }),
       el("div", { class: "tl-handle tl-end", "data-edge": "end", title: "Drag to move the end",
                   onpointerdown: (e) => this.drag(e, s, "end") }),
       s.open ? el("span", { class: "tl-open", "aria-hidden": "true" }, "▸") : null,
       el("span", { class: "tl-name" }, s.label.split(".").pop()));
    return el("div", { class: "tl-lane" }, bar);
  }

  /** Drag an end of a scene's bar; the frame under the pointer is shown while dragging. */
  drag(e, scene, edge) {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    const handle = e.currentTarget, bar = handle.parentNode;
    handle.setPointerCapture(e.pointerId);
    let frame = edge === "start" ? scene.start : scene.end;
    this.dragged = false;
    const move = (m) => {
      this.dragged = true;
      frame = this.frameAtX(m.clientX);
      frame = edge === "start" ? Math.min(frame, scene.end) : Math.max(frame, scene.start);
      const first = edge === "start" ? frame : scene.start, last = edge === "end" ? frame : scene.end;
      bar.style.left = `${first * this.ppf}px`;
      bar.style.width = `${(last - first + 1) * this.ppf}px`;
      this.tip.hidden = false;
      this.tip.textContent = `${edge === "start" ? "Start" : "End"}: frame ${frame}`;
      this.tip.style.left = `${this.x(frame)}px`;
      this.root.dataset.dragFrame = String(frame);
    };
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      this.tip.hidden = true;
      delete this.root.dataset.dragFrame;
      if (this.dragged) this.onDrag(scene, edge, frame);
      setTimeout(() => { this.dragged = false; }, 0);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  }

  /** While painting: the stretches painted so far, up to `frame`, in a lane of their own. */
  preview(switches, frame) {
    this.previewLane ||= el("div", { class: "tl-lane tl-preview", "aria-hidden": "true" });
    if (!switches.length) return this.previewLane.remove();
    if (!this.previewLane.isConnected) this.lanes.prepend(this.previewLane);
    const ppf = this.ppf;
    this.previewLane.replaceChildren(...switches.map((s, i) => {
      const last = i + 1 < switches.length ? switches[i + 1].frame - 1 : frame;
      return s.label === null || last < s.frame ? null : el("div", {
        class: "tl-seg tl-painting", "data-label": s.label,
        style: `left:${s.frame * ppf}px;width:${(last - s.frame + 1) * ppf}px;--c:${this.colourOf(s.label)}` });
    }));
  }

  setFrame(frame) {
    this.frame = frame;
    this.head.style.left = `${this.x(frame) + this.ppf / 2}px`;
    this.root.dataset.frame = String(frame);
  }

  /** Keep the playhead in view when zoomed. */
  follow() {
    const x = this.x(this.frame), view = this.root;
    if (x < view.scrollLeft || x > view.scrollLeft + view.clientWidth - 20) view.scrollLeft = Math.max(0, x - view.clientWidth / 3);
  }
}
