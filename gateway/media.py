"""What the platform learns from an uploaded file: image size and a thumbnail (Pillow)."""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

THUMBNAIL_PX = 256


@dataclass(frozen=True)
class Probe:
    mimetype: str
    width: int | None = None
    height: int | None = None
    channels: int | None = None
    thumbnail: bytes | None = None


class UnsupportedMedia(ValueError):
    pass


def probe(name: str, data: bytes, declared: str | None) -> Probe:
    """Image facts and a JPEG thumbnail; raises UnsupportedMedia for other content."""
    guessed = declared or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed.startswith("video/"):
        return Probe(mimetype=guessed)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            fmt = (img.format or "").lower()
            width, height, channels = img.width, img.height, len(img.getbands())
            thumb = img.convert("RGB")
            thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=85)
    except (UnidentifiedImageError, OSError) as exc:
        raise UnsupportedMedia(f"'{name}' is not an image this platform can read") from exc
    mimetype = Image.MIME.get(fmt.upper(), guessed)
    return Probe(mimetype, width, height, channels, out.getvalue())
