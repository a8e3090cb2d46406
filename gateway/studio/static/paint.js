// Play-to-paint: while the video plays, a label key switches the label painted from the frame
// on screen on, the "none" key paints nothing from there; pausing (or the end) ends the
// stretch, and the switches go to POST /items/{id}/scenes/paint in one request.

export class Painter {
  /** @param {(switches: {frame: number, label: string|null}[], stop: number|null) => Promise<void>} send */
  constructor(send, onChange = () => {}) {
    Object.assign(this, { send, onChange, switches: [] });
  }

  get active() {
    return this.switches.length > 0;
  }

  /** The label painted now (null: none), or undefined when not painting. */
  get current() {
    return this.active ? this.switches[this.switches.length - 1].label : undefined;
  }

  /** From `frame` on, `label` (null: none). */
  switchTo(frame, label) {
    if (!this.active && label === null) return;  // nothing painted yet: none changes nothing
    this.switches.push({ frame, label });
    this.onChange(this);
  }

  /** The video stopped at `frame` (`ended`: at its last frame, the last stretch stays open). */
  async stop(frame, ended) {
    if (!this.active) return;
    const switches = this.switches;
    this.switches = [];
    this.onChange(this);
    if (switches.every((s) => s.label === null)) return;
    await this.send(switches, ended ? null : frame);
  }
}
