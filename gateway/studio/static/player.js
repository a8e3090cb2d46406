// A frame-accurate player over a <video>: the frame it reports is the frame on screen.
// Playing, `requestVideoFrameCallback` says which frame was presented (its mediaTime);
// paused, the player seeks to the middle of a frame, so the picture and the number agree.
// Frames are 0-based, as the API's `frame` / `endFrame`.

export class Player {
  /**
   * @param {HTMLVideoElement} video
   * @param {{fps: number, frames: number, onFrame: (frame: number) => void,
   *          onState?: (playing: boolean, stoppedAt?: number, ended?: boolean) => void}} o
   */
  constructor(video, { fps, frames, onFrame, onState = () => {} }) {
    Object.assign(this, { video, fps, frames, onFrame, onState, frame: 0, presented: -1 });
    this.last = frames - 1;
    video.addEventListener("play", () => onState(true));
    video.addEventListener("pause", () => this.paused());
    video.addEventListener("ended", () => this.paused());
    if ("requestVideoFrameCallback" in video) this.watch();
    else this.poll();
  }

  get playing() {
    return !this.video.paused && !this.video.ended;
  }

  frameAt(seconds) {
    return Math.min(this.last, Math.max(0, Math.round(seconds * this.fps)));
  }

  watch() {
    this.video.requestVideoFrameCallback((_, meta) => {
      this.presented = this.frameAt(meta.mediaTime);
      if (this.playing || this.seeking === this.presented || this.seeking === undefined) this.set(this.presented);
      this.watch();
    });
  }

  /** Without requestVideoFrameCallback: the frame of currentTime at each animation frame. */
  poll() {
    requestAnimationFrame(() => {
      if (this.playing) this.set(Math.min(this.last, Math.floor(this.video.currentTime * this.fps)));
      this.poll();
    });
  }

  set(frame) {
    if (frame === this.frame) return;
    this.frame = frame;
    this.onFrame(frame);
  }

  /** Show `frame` (clamped): the middle of its time, so rounding never lands on a neighbour. */
  seek(frame) {
    const f = Math.min(this.last, Math.max(0, Math.round(frame)));
    if (this.playing) {
      this.stoppedAt = this.presented;  // where playing stopped, not where it seeks to
      this.video.pause();
    }
    this.seeking = f;
    this.video.currentTime = (f + 0.5) / this.fps;
    this.set(f);
  }

  step(by) {
    this.seek((this.playing ? this.presented : this.frame) + by);
  }

  play() {
    if (this.frame >= this.last) this.seek(0);
    this.seeking = undefined;
    return this.video.play();
  }

  pause() {
    this.video.pause();
  }

  toggle() {
    return this.playing ? this.pause() : this.play();
  }

  speed(rate) {
    this.video.playbackRate = rate;
  }

  /** Paused (or ended): settle on the frame last presented, exactly; `onState` is told the
   * frame playing stopped on, and whether it was the end. */
  paused() {
    const at = this.stoppedAt ?? (this.presented >= 0 ? this.presented : this.frame);
    const ended = this.video.ended;
    this.stoppedAt = undefined;
    if (this.seeking === undefined) this.seek(at);
    this.onState(false, at, ended);
  }

  time(frame = this.frame) {
    return frame / this.fps;
  }
}
