"""Server-drawn charts for the report page: geometry for inline SVG, no script.

Pure functions: they take the numbers and return what the template draws (rectangles,
a polyline, axis ticks), with the text of every value, so the chart carries its numbers
for screen readers and the table beside it shows the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 140
VALUE_WIDTH = 90


@dataclass
class Bar:
    label: str
    value: float | None
    text: str
    y: int
    width: float


@dataclass
class BarChart:
    width: int
    height: int
    plot_width: int
    label_width: int = LABEL_WIDTH
    bars: list[Bar] = field(default_factory=list)


def bar_chart(
    items: Sequence[tuple[str, float | None]],
    fmt: Callable[[float | None], str],
    *,
    width: int = 560,
    maximum: float | None = None,
) -> BarChart:
    """Horizontal bars, one per item, scaled to the largest value (or ``maximum``)."""
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    top = maximum or max((v for _, v in items if v is not None), default=0) or 1
    chart = BarChart(
        width=width, height=max(1, len(items)) * (BAR_HEIGHT + BAR_GAP), plot_width=plot
    )
    for i, (label, value) in enumerate(items):
        chart.bars.append(
            Bar(
                label=label,
                value=value,
                text=fmt(value),
                y=i * (BAR_HEIGHT + BAR_GAP),
                width=0 if value is None else round(max(0.0, value) / top * plot, 1),
            )
        )
    return chart


@dataclass
class Column:
    label: str
    value: float | None
    text: str
    x: float
    y: float
    height: float
    width: float
    tick: bool


@dataclass
class SeriesChart:
    width: int
    height: int
    top: int
    bottom: int
    left: int
    columns: list[Column] = field(default_factory=list)
    line: str = ""
    points: list[dict[str, Any]] = field(default_factory=list)
    max_text: str = ""


def series_chart(
    points: Sequence[tuple[str, float | None]],
    fmt: Callable[[float | None], str],
    *,
    kind: str = "bars",
    width: int = 720,
    height: int = 200,
) -> SeriesChart:
    """A time series as columns (``kind="bars"``) or a line with dots (``"line"``);
    missing values leave a gap. At most about twelve axis labels are shown."""
    left, top, bottom = 48, 12, 28
    plot_w, plot_h = width - left - 8, height - top - bottom
    values = [v for _, v in points if v is not None]
    peak = max(values, default=0) or 1
    n = max(1, len(points))
    step = plot_w / n
    every = max(1, math.ceil(n / 12))
    chart = SeriesChart(
        width=width, height=height, top=top, bottom=height - bottom, left=left, max_text=fmt(peak)
    )
    path: list[str] = []
    for i, (label, value) in enumerate(points):
        h = 0.0 if value is None else max(0.0, value) / peak * plot_h
        x = left + i * step
        column = Column(
            label=label,
            value=value,
            text=fmt(value),
            x=round(x + step * 0.15, 1),
            y=round(top + plot_h - h, 1),
            height=round(h, 1),
            width=round(step * 0.7, 1),
            tick=i % every == 0,
        )
        chart.columns.append(column)
        if kind == "line":
            if value is None:
                if path:
                    chart.line += " ".join(path) + " "
                path = []
                continue
            cx, cy = round(x + step / 2, 1), round(top + plot_h - h, 1)
            path.append(f"{'M' if not path else 'L'}{cx},{cy}")
            chart.points.append({"x": cx, "y": cy, "label": label, "text": column.text})
    if kind == "line" and path:
        chart.line += " ".join(path)
    chart.line = chart.line.strip()
    return chart
