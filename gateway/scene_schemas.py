"""HTTP request bodies of video scenes: strict (unknown fields refused), camelCase. Frames are
0-based and ranges inclusive, as in Dataloop's `frame` / `endFrame`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.schemas import Body

MAX_SWITCHES = 10_000


class SceneIn(Body):
    """Start a scene at `frame`. Without `endFrame` it lasts to the last frame of the video
    until an end is set."""

    label: str = Field(min_length=1, max_length=1000)
    frame: int = Field(ge=0, description="first frame of the scene")
    end_frame: int | None = Field(None, ge=0, description="last frame (inclusive); absent: open")
    attributes: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=10_000)
    source: Literal["ui", "sdk", "other"] = "ui"


class ScenePatch(Body):
    """One change per request: `endFrame` (null: last to the end of the video again), or
    `frame` (move the start), or `label` from `fromFrame` (default: the scene's first frame)
    until the scene's next label change."""

    end_frame: int | None = Field(None, ge=0)
    frame: int | None = Field(None, ge=0)
    label: str | None = Field(None, min_length=1, max_length=1000)
    from_frame: int | None = Field(None, ge=0)


class FrameRange(Body):
    """Frames `from` to `to`, both inclusive."""

    first: int = Field(alias="from", ge=0)
    last: int = Field(alias="to", ge=0)


class SwitchBody(Body):
    frame: int = Field(ge=0)
    label: str | None = Field(None, min_length=1, max_length=1000,
                              description="the label from this frame on; null: none")


class PaintIn(Body):
    """Play-to-paint: the label switches recorded while the video played, in playing order.
    See shared.rules.painting for how they become scenes."""

    switches: list[SwitchBody] = Field(min_length=1, max_length=MAX_SWITCHES)
    stop_frame: int | None = Field(None, ge=0, description="last painted frame; absent: the "
                                   "video's last frame, and a scene reaching it stays open")
    attributes: dict[str, Any] = Field(default_factory=dict)
    source: Literal["ui", "sdk", "other"] = "ui"
