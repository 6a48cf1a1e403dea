"""Draw the app icon (the tooth of the window's top bar on its dark green) and write it as PNG,
Windows .ico and macOS .icns into build/icons/. The results are committed, so a build never has
to run this; run it again only to change the icon: `.venv/bin/python build/make_icons.py`."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent / "icons"
NAME = "dental-images"
BACKGROUND = "#0f3d3a"
TOOTH = "#5eead4"
# The logo of web/templates/index.html (a 24x24 SVG path of absolute and relative cubic curves).
TOOTH_PATH = (
    "M7 2C4 2 2.5 4.5 2.5 7.5c0 3 1.5 5 2.2 8.2.6 2.9 1.2 6.3 3 6.3 1.6 0 1.8-2.7 2.3-5 "
    ".3-1.5.9-2.5 2-2.5s1.7 1 2 2.5c.5 2.3.7 5 2.3 5 1.8 0 2.4-3.4 3-6.3.7-3.2 2.2-5.2 2.2-8.2"
    "C21.5 4.5 20 2 17 2c-2 0-3 1-5 1S9 2 7 2z"
)

Point = tuple[float, float]


def _cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    points = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        points.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return points


def path_points(path: str) -> list[Point]:
    """Flatten an SVG path made of M, C/c, S/s and z into a polygon."""
    tokens = re.findall(r"[MCcSsz]|-?(?:\d+\.?\d*|\.\d+)", path)
    points: list[Point] = []
    current: Point = (0.0, 0.0)
    last_control: Point | None = None
    command = ""
    i = 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command == "z":
                continue
        count = {"M": 2, "C": 6, "c": 6}.get(command, 4)
        numbers = [float(t) for t in tokens[i : i + count]]
        i += len(numbers)
        ox, oy = current if command.islower() else (0.0, 0.0)
        pairs = [(numbers[k] + ox, numbers[k + 1] + oy) for k in range(0, len(numbers), 2)]
        if command == "M":
            current = pairs[0]
            points.append(current)
            continue
        if command in "Ss":
            mirror = last_control or current
            pairs.insert(0, (2 * current[0] - mirror[0], 2 * current[1] - mirror[1]))
        points += _cubic(current, pairs[0], pairs[1], pairs[2])
        last_control, current = pairs[1], pairs[2]
    return points


def draw_icon(size: int) -> Image.Image:
    """The icon at `size` pixels, drawn 4x larger and scaled down for smooth edges."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BACKGROUND)
    scale, offset = big * 0.7 / 24, big * 0.15
    polygon = [(x * scale + offset, y * scale + offset) for x, y in path_points(TOOTH_PATH)]
    draw.polygon(polygon, fill=TOOTH)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ICONS.mkdir(exist_ok=True)
    draw_icon(256).save(ICONS / f"{NAME}.png", optimize=True)
    large = draw_icon(1024)
    large.save(ICONS / f"{NAME}.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    large.save(ICONS / f"{NAME}.icns")
    for path in sorted(ICONS.iterdir()):
        print(f"{path.relative_to(ICONS.parent.parent)}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
