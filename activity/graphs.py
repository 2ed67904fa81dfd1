"""Traffic graphs from the hourly and daily counts, drawn as SVG on the server (no script, no
chart library): per hour (two days), day (a month), week (half a year), month (a year) and
year (five years)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activity.models import DailyCount, HourlyCount, Kind

PERIODS = {
    "hour": (_("per hour"), 48),
    "day": (_("per day"), 31),
    "week": (_("per week"), 26),
    "month": (_("per month"), 12),
    "year": (_("per year"), 5),
}
COLOURS = {
    Kind.RECEIVED: "#0d6efd",
    Kind.SENT: "#198754",
    Kind.BOUNCED: "#fd7e14",
    Kind.REJECTED: "#dc3545",
    Kind.DEFERRED: "#6c757d",
    Kind.SPAM: "#6f42c1",
    Kind.VIRUS: "#212529",
}
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 40


@dataclass
class Graph:
    period: str
    labels: list[str]
    series: dict[str, list[int]]
    lines: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    grid: list[dict[str, Any]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def totals(self) -> list[tuple[str, str, str, int]]:
        return [
            (kind, Kind(kind).label, COLOURS[kind], sum(values))
            for kind, values in self.series.items()
        ]


def _buckets(period: str, now: datetime.datetime) -> tuple[Any, list[str]]:
    local = timezone.localtime(now)
    today = local.date()
    count = PERIODS[period][1]
    if period == "hour":
        end = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
        start = end - datetime.timedelta(hours=count - 1)
        labels = [
            timezone.localtime(start + datetime.timedelta(hours=i)).strftime("%d %H:00")
            for i in range(count)
        ]
        return start, labels
    if period == "day":
        start = today - datetime.timedelta(days=count - 1)
        return start, [(start + datetime.timedelta(days=i)).strftime("%m-%d") for i in range(count)]
    if period == "week":
        monday = today - datetime.timedelta(days=today.weekday())
        start = monday - datetime.timedelta(weeks=count - 1)
        return start, [
            (start + datetime.timedelta(weeks=i)).strftime("%m-%d") for i in range(count)
        ]
    if period == "month":
        first = today.year * 12 + today.month - 1 - (count - 1)
        start = datetime.date(first // 12, first % 12 + 1, 1)
        labels = []
        for i in range(count):
            index = first + i
            labels.append(f"{index // 12}-{index % 12 + 1:02d}")
        return start, labels
    start = datetime.date(today.year - count + 1, 1, 1)
    return start, [str(start.year + i) for i in range(count)]


def _index(period: str, start: Any, when: Any) -> int:
    if period == "hour":
        return int((when - start).total_seconds() // 3600)
    if period == "day":
        return (when - start).days
    if period == "week":
        return (when - start).days // 7
    if period == "month":
        return (when.year * 12 + when.month) - (start.year * 12 + start.month)
    return when.year - start.year


def traffic_graph(domain: str, period: str, *, now: datetime.datetime | None = None) -> Graph:
    """The counts of ``domain`` (empty: the whole installation) over ``period``: one query."""
    now = now or timezone.now()
    start, labels = _buckets(period, now)
    series = {kind: [0] * len(labels) for kind in Kind.values}
    if period == "hour":
        rows = HourlyCount.objects.filter(domain=domain, hour__gte=start).values_list(
            "hour", "kind", "count"
        )
    elif period in ("month", "year"):
        rows = _summed_by_month_or_year(domain, period, start)
    else:
        rows = DailyCount.objects.filter(domain=domain, day__gte=start).values_list(
            "day", "kind", "count"
        )
    for when, kind, number in rows:
        index = _index(period, start, when)
        if 0 <= index < len(labels) and kind in series:
            series[kind][index] += number
    graph = Graph(period=period, labels=labels, series=series)
    _draw(graph)
    return graph


def _summed_by_month_or_year(
    domain: str, period: str, start: datetime.date
) -> list[tuple[datetime.date, str, int]]:
    """The daily counts summed by the database per month or year (the first day of each):
    a year graph covers five years of daily rows, which are not worth sending to Python."""
    parts: dict[str, Any] = {"year": ExtractYear("day")}
    if period == "month":
        parts["month"] = ExtractMonth("day")
    rows = (
        DailyCount.objects.filter(domain=domain, day__gte=start)
        .annotate(**parts)
        .values(*parts, "kind")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return [
        (datetime.date(row["year"], row.get("month", 1), 1), row["kind"], row["total"])
        for row in rows
    ]


def _nice(top: int) -> int:
    if top <= 5:
        return 5
    magnitude = 10 ** (len(str(top)) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _draw(graph: Graph) -> None:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice(max((max(values) for values in graph.series.values()), default=0))
    n = len(graph.labels)
    step = plot_w / max(n - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h - value * plot_h / top, 1)

    for kind, values in graph.series.items():
        graph.lines.append(
            {
                "kind": kind,
                "colour": COLOURS[kind],
                "points": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
            }
        )
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = round(top * fraction)
        graph.grid.append({"y": y(value), "label": f"{value:,}", "x2": WIDTH - RIGHT})
    every = max(1, n // 8)
    for i, label in enumerate(graph.labels):
        if i % every == 0 or i == n - 1:
            graph.ticks.append({"x": x(i), "label": label, "y": HEIGHT - BOTTOM + 16})
