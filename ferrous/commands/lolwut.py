"""LOLWUT (lolwut.c, lolwut5.c, lolwut6.c): computer art, version by version.

The drawings are ports of Redis's own: LOLWUT VERSION 5 draws Georg Nees's
"Schotter" in Braille dots, VERSION 6 an 8-bit skyline in terminal colours, and any
other version prints the server version, as Redis 7.0 does. The art is random
where Redis's is (glibc rand()); where Redis's is not (the first two rows of
Schotter), the output is byte for byte Redis's, because the arithmetic follows
the C code's float (32-bit) and int conversions step by step.
"""
from __future__ import annotations

import math
import random
import struct

from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous import REDIS_VERSION
from ferrous.protocol.types import Verbatim

_RAND_MAX = 2**31 - 1
_rand = random.Random()


def _c_rand() -> int:
    """glibc's rand(): 0 .. RAND_MAX."""
    return _rand.getrandbits(31)


def _f32(value: float) -> float:
    """Round to a C float, as each float assignment in lolwut5.c does."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _c_round(value: float) -> int:
    """C's round(): halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def _trunc_div(a: int, b: int) -> int:
    """C's integer division, which truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - b * _trunc_div(a, b)


class Canvas:
    """lwCanvas: a width x height grid of small colour numbers."""

    def __init__(self, width: int, height: int, background: int):
        self.width = width
        self.height = height
        self.pixels = bytearray([background]) * (width * height)

    def draw(self, x: int, y: int, color: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def get(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Bresenham, as lwDrawLine."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.draw(x1, y1, color)
            if x1 == x2 and y1 == y2:
                return
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def square(self, x: int, y: int, size: float, angle: float, color: int) -> None:
        """lwDrawSquare: a square of side `size` centred on x,y, rotated by angle."""
        size = _f32(_c_round(_f32(size / 1.4142135623)))
        k = _f32(math.pi / 4 + angle)
        px, py = [], []
        for _ in range(4):
            px.append(_c_round(math.sin(k) * size + x))
            py.append(_c_round(math.cos(k) * size + y))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


# ---- VERSION 5: Schotter ---------------------------------------------------------

def _schotter(console_cols: int, per_row: int, per_col: int) -> Canvas:
    canvas_width = console_cols * 2
    padding = 2 if canvas_width > 4 else 0
    side = _f32((canvas_width - padding * 2) / per_row)
    canvas = Canvas(canvas_width, int(_f32(side * per_col) + padding * 2), 0)
    half = _f32(side / 2)
    for y in range(per_col):
        for x in range(per_row):
            sx = int(_f32(_f32(_f32(x * side) + half) + padding))
            sy = int(_f32(_f32(_f32(y * side) + half) + padding))
            angle = 0.0
            if y > 1:
                r1, r2, r3 = (_f32(_f32(_c_rand() / _RAND_MAX) / per_col * y) for _ in range(3))
                if _c_rand() % 2:
                    r1 = -r1
                if _c_rand() % 2:
                    r2 = -r2
                if _c_rand() % 2:
                    r3 = -r3
                angle = r1
                sx = int(sx + _f32(_f32(r2 * side) / 3))
                sy = int(sy + _f32(_f32(r3 * side) / 3))
            canvas.square(sx, sy, side, angle, 1)
    return canvas


# Pixel offsets of the 8 dots of a Braille cell, by bit (lwTranslatePixelsGroup).
_BRAILLE_DOTS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3))


def _render_braille(canvas: Canvas) -> str:
    text = []
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 2):
            byte = 0
            for bit, (dx, dy) in enumerate(_BRAILLE_DOTS):
                if canvas.get(x + dx, y + dy):
                    byte |= 1 << bit
            text.append(chr(0x2800 + byte))
        # Redis ends a row with "\n" unless y is the canvas's last pixel row, so
        # most canvases keep a newline after their last row of cells.
        if y != canvas.height - 1:
            text.append("\n")
    return "".join(text)


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def lolwut5(args: list) -> Verbatim:
    cols, per_row, per_col = 66, 8, 12
    if len(args) > 0:
        cols = parse_int(args[0])
    if len(args) > 1:
        per_row = parse_int(args[1])
    if len(args) > 2:
        per_col = parse_int(args[2])
    canvas = _schotter(_clamp(cols, 1, 1000), _clamp(per_row, 1, 200), _clamp(per_col, 1, 200))
    text = (_render_braille(canvas)
            + "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. " + REDIS_VERSION + "\n")
    return Verbatim(text.encode(), "txt")


# ---- VERSION 6: the skyline ----------------------------------------------------

_COLOR_ESCAPES = ("0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m")


def _skyscraper(canvas: Canvas, xoff: int, width: int, height: int, windows: bool, color: int):
    start_y = canvas.height - 1
    end_y = start_y - height + 1
    for y in range(start_y, end_y - 1, -1):
        for x in range(xoff, xoff + width):
            if y == end_y and (x <= xoff + 1 or x >= xoff + width - 2):
                continue                    # the roof is four pixels narrower
            pixel = color
            if windows and xoff + 1 < x < xoff + width - 2 and end_y + 1 < y < start_y - 1:
                relx, rely = x - (xoff + 1), y - (end_y + 1)
                if _c_mod(_trunc_div(relx, 2), 2) and _c_mod(rely, 2):
                    pixel = 1 + _c_rand() % 2
                    while pixel == color:
                        pixel = 1 + _c_rand() % 2
                    if _c_mod(relx, 2):     # a window is two pixels wide, one colour
                        pixel = canvas.get(x - 1, y)
            canvas.draw(x, y, pixel)


def _skyline(canvas: Canvas) -> None:
    height = canvas.height
    for color in (2, 1):                    # lighter buildings stay in the background
        offset = -10
        while offset < canvas.width:
            offset += _c_rand() % 8
            width = 10 + _c_rand() % 9
            if color == 2:
                tall = height // 2 + (_c_rand() % height) // 2
            else:
                tall = height // 2 + (_c_rand() % height) // 3
            _skyscraper(canvas, offset, width, tall, False, color)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += _c_rand() % 8
        width = 5 + _c_rand() % 14
        if width % 4:
            width += width % 3
        tall = height // 3 + (_c_rand() % height) // 2
        _skyscraper(canvas, offset, width, tall, True, 0)
        offset += width + 5


def _render_colors(canvas: Canvas) -> str:
    lines = []
    for y in range(canvas.height):
        lines.append("".join(f"\033[{_COLOR_ESCAPES[canvas.get(x, y)]} \033[0m"
                             for x in range(canvas.width)))
    return "\n".join(lines)


def lolwut6(args: list) -> Verbatim:
    cols, rows = 80, 20
    if len(args) > 0:
        cols = parse_int(args[0])
    if len(args) > 1:
        rows = parse_int(args[1])
    canvas = Canvas(_clamp(cols, 1, 1000), _clamp(rows, 1, 1000), 3)
    _skyline(canvas)
    text = (_render_colors(canvas)
            + "\nDedicated to the 8 bit game developers of past and present.\n"
            "Original 8 bit image from Plaguemon by hikikomori. Redis ver. " + REDIS_VERSION + "\n")
    return Verbatim(text.encode(), "txt")


def lolwut_for_version(version: str, args: list) -> Verbatim:
    """lolwutCommand's choice by the version string's first characters."""
    v = version + "\0\0\0"
    if (v[0] == "5" and v[1] == "." and v[2] != "9") or (v[0] == "4" and v[1] == "." and v[2] == "9"):
        return lolwut5(args)
    if (v[0] == "6" and v[1] == "." and v[2] != "9") or (v[0] == "5" and v[1] == "." and v[2] == "9"):
        return lolwut6(args)
    return Verbatim(f"Redis ver. {REDIS_VERSION}\n".encode(), "txt")


@command("lolwut", arity=-1, flags="readonly fast", group="server")
def lolwut(ctx, argv):
    if len(argv) >= 3 and argv[1].lower() == b"version":
        version = f"{parse_int(argv[2]) & 0xFFFFFFFF}.0.0"      # snprintf("%u.0.0")
        return lolwut_for_version(version, argv[3:])
    return lolwut_for_version(REDIS_VERSION, argv[1:])
