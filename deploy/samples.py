"""Sample product images for the demo dataset, drawn locally with Pillow (no download)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

SAMPLES = [
    ("polo-navy.png", "polo", (24, 40, 92)), ("polo-red.png", "polo", (200, 40, 40)),
    ("polo-green.png", "polo", (30, 130, 70)), ("jeans-blue.png", "jeans", (40, 70, 140)),
    ("jeans-black.png", "jeans", (30, 30, 35)), ("jeans-grey.png", "jeans", (120, 120, 130)),
    ("dress-yellow.png", "dress", (230, 190, 40)), ("dress-purple.png", "dress", (120, 60, 160)),
    ("dress-pink.png", "dress", (230, 120, 170)), ("polo-white.png", "polo", (235, 235, 235)),
    ("jeans-light.png", "jeans", (120, 160, 210)), ("dress-teal.png", "dress", (30, 150, 150)),
]


def _polo(d: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    d.polygon([(110, 80), (150, 60), (250, 60), (290, 80), (350, 140), (310, 180), (280, 150),
               (280, 340), (120, 340), (120, 150), (90, 180), (50, 140)], fill=c, outline=(0, 0, 0))
    d.polygon([(170, 60), (200, 100), (230, 60)], fill=(250, 250, 250), outline=(0, 0, 0))
    for y in (110, 135):
        d.ellipse([195, y, 205, y + 10], fill=(240, 240, 240))


def _jeans(d: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    d.polygon([(120, 50), (280, 50), (300, 350), (215, 350), (200, 140), (185, 350), (100, 350)],
              fill=c, outline=(0, 0, 0))
    d.rectangle([120, 50, 280, 75], fill=tuple(max(0, v - 30) for v in c), outline=(0, 0, 0))


def _dress(d: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    d.polygon([(165, 50), (235, 50), (250, 150), (320, 350), (80, 350), (150, 150)],
              fill=c, outline=(0, 0, 0))
    d.rectangle([150, 140, 250, 160], fill=tuple(min(255, v + 40) for v in c))


DRAW = {"polo": _polo, "jeans": _jeans, "dress": _dress}


def render(kind: str, colour: tuple[int, int, int], seed: int) -> bytes:
    rnd = random.Random(seed)
    background = tuple(rnd.randint(200, 250) for _ in range(3))
    img = Image.new("RGB", (400, 400), background)
    DRAW[kind](ImageDraw.Draw(img), colour)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def samples() -> list[tuple[str, bytes]]:
    return [(name, render(kind, colour, i)) for i, (name, kind, colour) in enumerate(SAMPLES)]
