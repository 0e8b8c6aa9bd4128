"""Geometry of small server-rendered SVG bar charts (no JavaScript): pure functions from numbers
to coordinates, so templates only place what is computed here. Apps' panel presenters use them;
this module imports no app."""

from dataclasses import dataclass, field
from decimal import Decimal

# Pixels. The label column fits ~24 characters at 12 px; the value column an amount like
# "1,234,567 USD". Bars are thick enough to read a segment of 2 % at the chart's width.
LABEL_WIDTH = 170
VALUE_WIDTH = 110
BAR_HEIGHT = 18
ROW_GAP = 8
TOP = 6


@dataclass
class Segment:
    value: Decimal
    css: str
    title: str


@dataclass
class Row:
    label: str
    segments: list[Segment]
    value_label: str
    href: str = ""
    note: str = ""


@dataclass
class Chart:
    width: int
    height: int
    rows: list[dict] = field(default_factory=list)
    zero_x: float = 0.0
    marker: dict | None = None
    label_x: int = LABEL_WIDTH - 8


def bar_chart(
    rows: list[Row], *, width: int = 640, marker: Decimal | None = None, marker_label: str = ""
) -> Chart:
    """Horizontal bars, one per row; a row's segments stack left to right (negative totals grow
    left of a zero line). ``marker`` draws a dashed reference line (e.g. 100 % capacity)."""
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    totals = [sum((s.value for s in row.segments), Decimal(0)) for row in rows]
    high = max([t for t in totals if t > 0] + [marker or Decimal(0), Decimal(0)])
    low = min([t for t in totals if t < 0] + [Decimal(0)])
    span = (high - low) or Decimal(1)
    scale = Decimal(plot) / span
    zero_x = LABEL_WIDTH + float(-low * scale)
    chart = Chart(width=width, height=TOP * 2 + len(rows) * (BAR_HEIGHT + ROW_GAP), zero_x=zero_x)
    for index, (row, total) in enumerate(zip(rows, totals, strict=True)):
        y = TOP + index * (BAR_HEIGHT + ROW_GAP)
        x = zero_x if total >= 0 else zero_x + float(total * scale)
        segments = []
        for segment in row.segments:
            w = float(abs(segment.value) * scale)
            if w <= 0:
                continue
            segments.append(
                {
                    "x": round(x, 1),
                    "w": round(max(w, 1.0), 1),
                    "css": segment.css,
                    "title": segment.title,
                }
            )
            x += w
        end = max(x, zero_x) if total >= 0 else zero_x
        chart.rows.append(
            {
                "y": y,
                "text_y": y + BAR_HEIGHT - 5,
                "label": _clip(row.label),
                "full_label": row.label,
                "href": row.href,
                "segments": segments,
                "value_label": row.value_label,
                "value_x": round(end + 6, 1),
                "note": row.note,
            }
        )
    if marker is not None:
        chart.marker = {
            "x": round(zero_x + float(marker * scale), 1),
            "label": marker_label,
            "y2": chart.height - TOP + 2,
        }
    return chart


def _clip(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass
class Point:
    """One column of a weekly trend: its value, colour class, tooltip and drill-down link."""

    label: str
    value: Decimal | None
    css: str
    title: str
    href: str = ""


def column_chart(points: list[Point], *, width: int = 360, height: int = 96) -> dict:
    """Vertical columns, one per point (a week), left to right, with a zero line; negative values
    hang below it and a point with no value (``None``) leaves a gap. Labels under the first,
    middle and last columns only, so twelve weeks fit a phone's width."""
    top, bottom = 4, 16
    plot = height - top - bottom
    values = [p.value for p in points if p.value is not None]
    high = max([v for v in values if v > 0] + [Decimal(0)])
    low = min([v for v in values if v < 0] + [Decimal(0)])
    scale = Decimal(plot) / ((high - low) or Decimal(1))
    zero_y = top + float(high * scale)
    step = width / max(len(points), 1)
    labelled = {0, len(points) // 2, len(points) - 1}
    columns = []
    for index, point in enumerate(points):
        x = index * step + step * 0.15
        value = point.value or Decimal(0)
        size = float(abs(value) * scale)
        columns.append(
            {
                "x": round(x, 1),
                "w": round(step * 0.7, 1),
                "y": round(zero_y - size if value >= 0 else zero_y, 1),
                "h": round(max(size, 1.0) if point.value is not None else 0, 1),
                "css": point.css,
                "title": point.title,
                "href": point.href,
                "label": point.label if index in labelled else "",
                "label_x": round(
                    0 if index == 0 else width if index == len(points) - 1 else x + step * 0.35, 1
                ),
                "anchor": "start"
                if index == 0
                else "end"
                if index == len(points) - 1
                else "middle",
            }
        )
    return {
        "width": width,
        "height": height,
        "zero_y": round(zero_y, 1),
        "label_y": height - 3,
        "columns": columns,
    }
