"""What the platform learns from a video: fps, frame count, duration and size (PyAV), stored
where Dataloop keeps them (item `metadata.system` and top-level `metadata.fps`), and read
back as the facts scene commands need."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from shared.rules.labels import Problem
from shared.rules.scenes import Video

THUMBNAIL_PX = 256


class UnreadableVideo(ValueError):
    pass


@dataclass(frozen=True)
class VideoProbe:
    fps: float
    rate: str  # average frame rate as a rational, e.g. "30000/1001"
    base_rate: str  # ffprobe's r_frame_rate
    frame_count: int
    frames_read: int | None  # frames counted by decoding (None: the container said)
    duration: float
    width: int
    height: int
    start_time: float
    thumbnail: bytes | None = None


def _rational(rate: Fraction | None) -> str:
    return f"{rate.numerator}/{rate.denominator}" if rate else "0/1"


def _thumbnail(frame: av.VideoFrame) -> bytes:
    img = frame.to_image()
    img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def probe_video(name: str, data: bytes) -> VideoProbe:
    """Facts of a video file's first video stream; frames are counted by decoding when the
    container does not say (WebM, Matroska). Raises UnreadableVideo."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise UnreadableVideo(f"'{name}' has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate:
                raise UnreadableVideo(f"'{name}' has no frame rate")
            counted, thumbnail = 0, None
            for frame in container.decode(stream):
                if thumbnail is None:
                    thumbnail = _thumbnail(frame)
                counted += 1
                if stream.frames and counted >= 1:
                    break  # the container says how many; one frame for the thumbnail
            frames = stream.frames or counted
            duration = _duration(container, stream, frames, float(rate))
            start = float(container.start_time / av.time_base) if container.start_time else 0.0
            return VideoProbe(
                fps=float(rate), rate=_rational(rate), base_rate=_rational(stream.base_rate),
                frame_count=frames, frames_read=None if stream.frames else counted,
                duration=duration, width=stream.codec_context.width,
                height=stream.codec_context.height, start_time=start, thumbnail=thumbnail,
            )
    except av.FFmpegError as exc:
        raise UnreadableVideo(f"'{name}' is not a video this platform can read") from exc


def _duration(container: Any, stream: Any, frames: int, fps: float) -> float:
    if container.duration:
        return float(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return frames / fps


async def probe_video_off_loop(name: str, data: bytes) -> VideoProbe:
    """probe_video in a worker thread: decoding must not stall the event loop."""
    return await asyncio.to_thread(probe_video, name, data)


def video_metadata(facts: VideoProbe) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`metadata.system` fields, top-level `metadata` fields) as Dataloop writes them."""
    system = {
        "fps": facts.fps, "nb_frames": facts.frame_count, "duration": facts.duration,
        "height": facts.height, "width": facts.width, "startTime": facts.start_time,
        "nb_streams": 1,
        "ffmpeg": {"nb_read_frames": str(facts.frames_read or facts.frame_count),
                   "avg_frame_rate": facts.rate, "r_frame_rate": facts.base_rate,
                   "nb_frames": str(facts.frame_count), "duration": str(facts.duration),
                   "width": facts.width, "height": facts.height},
    }
    return system, {"fps": facts.fps, "startTime": facts.start_time}


def declared_video_metadata(fps: float, frame_count: int, duration: float | None = None
                            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same fields for a video registered by URL with its facts given."""
    seconds = duration if duration is not None else frame_count / fps
    rate = Fraction(fps).limit_denominator(1001)
    system = {"fps": fps, "nb_frames": frame_count, "duration": seconds, "startTime": 0,
              "ffmpeg": {"nb_read_frames": str(frame_count), "avg_frame_rate": _rational(rate),
                         "r_frame_rate": _rational(rate)}}
    return system, {"fps": fps, "startTime": 0}


def video_of(item: dict[str, Any]) -> Video | list[Problem]:
    """The video facts of an item, or why scene commands cannot apply to it."""
    metadata = item.get("metadata") or {}
    system = metadata.get("system") or {}
    if not str(system.get("mimetype", "")).startswith("video/"):
        return [Problem("item", "is not a video: scenes are for video items")]
    fps = system.get("fps") or metadata.get("fps")
    frames = system.get("nb_frames") or (system.get("ffmpeg") or {}).get("nb_read_frames")
    try:
        fps, frames = float(fps), int(frames)
        duration = float(system.get("duration") or frames / fps)
        return Video(fps=fps, frame_count=frames, duration=duration)
    except (TypeError, ValueError):
        return [Problem("item", "the video's fps and frame count are unknown: upload the file, "
                        "or register it with fps and frameCount")]
