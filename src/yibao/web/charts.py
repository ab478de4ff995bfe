"""Charts drawn on the server as SVG (no chart library, nothing fetched): the geometry of a line
chart (fund balances month by month) and a bar chart (settlements' layers). Every point and bar
carries its value (``<title>`` and ``data-value``), which ``console.js`` shows on hover and on
keyboard focus."""

from __future__ import annotations

from dataclasses import dataclass

from yibao.policy import fen_to_yuan

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 20, 40
#: colour-blind-safe palette (Okabe-Ito)
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: str


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class LineChart:
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT


def _scale(low: int, high: int) -> tuple[int, int]:
    if low == high:
        return (low - 100, high + 100) if low else (0, 100)
    return low, high


def _y(value: int, low: int, high: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))


def line_chart(labels: list[str], series: dict[str, list[int]], names: dict[str, str]) -> LineChart:
    """Lines of fen values over ``labels`` (months), values shown in yuan."""
    values = [v for s in series.values() for v in s] or [0]
    low, high = _scale(min(0, *values), max(0, *values))
    span = max(len(labels) - 1, 1)
    inner = WIDTH - LEFT - RIGHT

    def x(i: int) -> float:
        return LEFT + inner * (i / span if len(labels) > 1 else 0.5)

    lines = [
        Line(
            names.get(kind, kind),
            COLOURS[n % len(COLOURS)],
            [Point(x(i), _y(v, low, high), labels[i], fen_to_yuan(v)) for i, v in enumerate(s)],
        )
        for n, (kind, s) in enumerate(series.items())
    ]
    step = max(1, len(labels) // 8)
    x_ticks = [Tick(x(i), labels[i]) for i in range(0, len(labels), step)]
    y_ticks = [
        Tick(_y(low + (high - low) * k // 4, low, high), fen_to_yuan(low + (high - low) * k // 4))
        for k in range(5)
    ]
    return LineChart(lines, x_ticks, y_ticks)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    colour: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    y_ticks: list[Tick]
    base: float
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(items: list[tuple[str, int]]) -> BarChart:
    """One bar per (label, fen) item, values shown in yuan."""
    high = max([v for _, v in items] + [0]) or 100
    inner = WIDTH - LEFT - RIGHT
    slot = inner / max(len(items), 1)
    bars = []
    for i, (label, value) in enumerate(items):
        top = _y(value, 0, high)
        bars.append(
            Bar(
                LEFT + i * slot + slot * 0.15,
                top,
                slot * 0.7,
                _y(0, 0, high) - top,
                label,
                fen_to_yuan(value),
                COLOURS[i % len(COLOURS)],
            )
        )
    ticks = [Tick(_y(high * k // 4, 0, high), fen_to_yuan(high * k // 4)) for k in range(5)]
    return BarChart(bars, ticks, _y(0, 0, high))
