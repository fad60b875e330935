"""Server-rendered SVG charts for the report page: numbers in, shapes out (no script)."""

from __future__ import annotations

from typing import Any

from reports.selectors import Report

WIDTH = 720
HEIGHT = 160
BAR_HEIGHT = 18
MAX_BARS = 20


def bar_chart(report: Report) -> dict[str, Any]:
    """Opened (bars) and resolved (line) per day; per agent or label, paired horizontal bars."""
    if report.group == "day":
        return _by_day(report)
    return _by_key(report)


def _by_day(report: Report) -> dict[str, Any]:
    rows = report.rows
    peak = max((max(r.opened, r.resolved) for r in rows), default=0) or 1
    step = WIDTH / max(len(rows), 1)
    bars, points = [], []
    for i, r in enumerate(rows):
        height = HEIGHT * r.opened / peak
        x = i * step
        bars.append(
            {
                "x": round(x, 2),
                "y": round(HEIGHT - height, 2),
                "width": round(max(step * 0.8, 0.5), 2),
                "height": round(height, 2),
                "label": r.label,
                "opened": r.opened,
                "resolved": r.resolved,
            }
        )
        points.append(f"{x + step * 0.4:.2f},{HEIGHT - HEIGHT * r.resolved / peak:.2f}")
    return {
        "kind": "day",
        "width": WIDTH,
        "height": HEIGHT,
        "peak": peak,
        "bars": bars,
        "line": " ".join(points),
    }


def _by_key(report: Report) -> dict[str, Any]:
    rows = report.rows[:MAX_BARS]
    peak = max((max(r.opened, r.resolved) for r in rows), default=0) or 1
    label_width = 180
    span = WIDTH - label_width - 60
    bars = []
    for i, r in enumerate(rows):
        y = i * (BAR_HEIGHT * 2 + 8)
        bars.append(
            {
                "y": y,
                "text_y": y + BAR_HEIGHT,
                "label": r.label,
                "opened": r.opened,
                "resolved": r.resolved,
                "opened_width": round(span * r.opened / peak, 2),
                "resolved_y": y + BAR_HEIGHT,
                "resolved_width": round(span * r.resolved / peak, 2),
            }
        )
    return {
        "kind": "key",
        "width": WIDTH,
        "height": max(len(rows), 1) * (BAR_HEIGHT * 2 + 8),
        "label_width": label_width,
        "bar_height": BAR_HEIGHT,
        "peak": peak,
        "bars": bars,
        "shown": len(rows),
        "total": len(report.rows),
    }
