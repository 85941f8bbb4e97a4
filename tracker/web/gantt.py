"""A process's schedule drawn as an inline SVG Gantt chart, on the server (no JavaScript).

One row per milestone: a tick at its target date, a bar to its forecast (or actual) date
with the slip in its own colour, arrows from each dependency, a line for today, and the
critical path outlined. Every bar has a ``<title>`` (browsers show it on hover, screen
readers read it); the pages keep the table of milestones below the chart.

The drawing is sized in a fixed coordinate system (``viewBox``) and scaled by CSS, so it
fits 1280 px and a phone alike (where its container scrolls rather than shrink the text).
Built with ElementTree, which escapes every title and label (characters XML cannot hold at
all are dropped).
"""

import datetime
import re
import xml.etree.ElementTree as ET

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe

from tracker.models import MilestoneStatus
from tracker.selectors.schedule import Schedule, ScheduleEntry

SVG_NS = "http://www.w3.org/2000/svg"

WIDTH = 960
LABEL_WIDTH = 250
RIGHT_MARGIN = 24
AXIS_HEIGHT = 34
ROW_HEIGHT = 30
BAR_HEIGHT = 14
BOTTOM_MARGIN = 10
MIN_BAR = 6
LABEL_CHARS = 34

# Characters XML 1.0 does not allow, even escaped (ElementTree writes them as they are, so
# a title typed with a vertical tab, which the models accept, would break the whole chart).
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def gantt_svg(schedule: Schedule, *, today: datetime.date) -> SafeString:
    """The chart for ``schedule`` as SVG markup ready to inline in a page ("" when no
    milestone has a date)."""
    entries = schedule.entries
    dates = [today]
    for entry in entries:
        m = entry.milestone
        dates += [d for d in (m.target_date, m.forecast_date, m.actual_date) if d]
    if len(dates) == 1 or not entries:
        return mark_safe("")
    start, end = min(dates), max(dates)
    pad = max(3, (end - start).days // 20)
    start -= datetime.timedelta(days=pad)
    end += datetime.timedelta(days=pad)
    scale = _Scale(start, end)
    height = AXIS_HEIGHT + ROW_HEIGHT * len(entries) + BOTTOM_MARGIN
    key = f"p{schedule.process.pk}"

    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {WIDTH} {height}",
            "class": "gantt",
            # A group, not an image: "img" would hide the bars' titles from screen readers.
            "role": "group",
            "aria-labelledby": f"{key}-title",
            "aria-describedby": f"{key}-desc",
            "preserveAspectRatio": "xMinYMin meet",
        },
    )
    _text(svg, "title", f"Schedule of {schedule.process.title}", id=f"{key}-title")
    _text(
        svg,
        "desc",
        "Each row is a milestone: a tick at its target date and a bar to its forecast or "
        "actual date; red is slip past the target; arrows lead from dependencies; the "
        "critical path is outlined. The table below lists the same dates.",
        id=f"{key}-desc",
    )
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        {
            "id": f"{key}-arrow",
            "viewBox": "0 0 8 8",
            "refX": "7",
            "refY": "4",
            "markerWidth": "8",
            "markerHeight": "8",
            "markerUnits": "userSpaceOnUse",
            "orient": "auto-start-reverse",
        },
    )
    ET.SubElement(marker, "path", {"d": "M0,0 L8,4 L0,8 z", "class": "arrow-head"})

    _axis(svg, scale, height)
    rows = {entry.milestone.pk: index for index, entry in enumerate(entries)}
    critical = set(schedule.critical_path)
    for index, entry in enumerate(entries):
        _row(svg, entry, index, scale, today)
    arrows = ET.SubElement(svg, "g", {"class": "arrows"})
    for index, entry in enumerate(entries):
        _arrows(arrows, entry, index, rows, entries, scale, key, critical)
    x = scale.x(today)
    ET.SubElement(
        svg,
        "line",
        {"class": "today", "x1": _n(x), "x2": _n(x), "y1": "18", "y2": str(height - 4)},
    )
    _text(svg, "text", "Today", x=_n(x + 3), y="16", **{"class": "today-label"})
    return mark_safe(ET.tostring(svg, encoding="unicode"))


class _Scale:
    def __init__(self, start: datetime.date, end: datetime.date):
        self.start = start
        self.days = max((end - start).days, 1)
        self.width = WIDTH - LABEL_WIDTH - RIGHT_MARGIN

    def x(self, day: datetime.date) -> float:
        return LABEL_WIDTH + (day - self.start).days * self.width / self.days


def _n(value: float) -> str:
    return f"{value:.1f}"


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = _XML_FORBIDDEN.sub("", text)
    return element


def _axis(svg: ET.Element, scale: _Scale, height: int) -> None:
    """A tick and label at the first of each month (every few months on long spans)."""
    axis = ET.SubElement(svg, "g", {"class": "axis"})
    months = scale.days / 30
    step = 1 if months <= 14 else 3 if months <= 40 else 12
    day = scale.start.replace(day=1)
    while scale.x(day) <= WIDTH - RIGHT_MARGIN:
        if day >= scale.start and (day.month - 1) % step == 0:
            x = _n(scale.x(day))
            ET.SubElement(
                axis, "line", {"x1": x, "x2": x, "y1": str(AXIS_HEIGHT - 6), "y2": str(height)}
            )
            label = date_format(day, "M Y" if day.month == 1 or step > 1 else "M")
            _text(axis, "text", label, x=x, y=str(AXIS_HEIGHT - 10))
        day = (day + datetime.timedelta(days=32)).replace(day=1)


def _row_y(index: int) -> float:
    return AXIS_HEIGHT + index * ROW_HEIGHT + ROW_HEIGHT / 2


def _row(
    svg: ET.Element, entry: ScheduleEntry, index: int, scale: _Scale, today: datetime.date
) -> None:
    m = entry.milestone
    y = _row_y(index)
    state = _state(entry)
    classes = ["gantt-row", f"is-{state}"] + (["is-critical"] if entry.critical else [])
    group = ET.SubElement(
        svg, "g", {"class": " ".join(classes), "data-milestone": str(m.pk), "id": f"gantt-{m.pk}"}
    )
    if index % 2:
        ET.SubElement(
            group,
            "rect",
            {
                "class": "stripe",
                "x": "0",
                "y": _n(y - ROW_HEIGHT / 2),
                "width": str(WIDTH),
                "height": str(ROW_HEIGHT),
            },
        )
    title = m.title if len(m.title) <= LABEL_CHARS else m.title[: LABEL_CHARS - 1] + "…"
    # The label leads to the milestone's entry in the timeline below.
    link = ET.SubElement(group, "a", {"href": f"#milestone-{m.pk}"})
    _text(link, "text", title, x="8", y=_n(y + 4), **{"class": "label"})

    target, end = m.target_date, m.actual_date or m.forecast_date
    if _state(entry) != "cancelled" and not m.actual_date and end and end < today:
        end = today  # still open past its date: it slips a day with every day
    if target is None and end is None:
        _text(group, "text", "no date", x=str(LABEL_WIDTH + 4), y=_n(y + 4), **{"class": "nodate"})
        return
    low, high = min(d for d in (target, end) if d), max(d for d in (target, end) if d)
    x1, x2 = scale.x(low), scale.x(high)
    if x2 - x1 < MIN_BAR:
        x1, x2 = (x1 + x2) / 2 - MIN_BAR / 2, (x1 + x2) / 2 + MIN_BAR / 2
    bar = ET.SubElement(
        group,
        "rect",
        {
            "class": "bar",
            "x": _n(x1),
            "y": _n(y - BAR_HEIGHT / 2),
            "width": _n(x2 - x1),
            "height": str(BAR_HEIGHT),
            "rx": "3",
        },
    )
    _text(bar, "title", _bar_title(entry))
    if target and end and end > target:
        ET.SubElement(
            group,
            "rect",
            {
                "class": "slip",
                "x": _n(scale.x(target)),
                "y": _n(y - BAR_HEIGHT / 2),
                "width": _n(scale.x(end) - scale.x(target)),
                "height": str(BAR_HEIGHT),
            },
        )
    if target:
        x = _n(scale.x(target))
        ET.SubElement(
            group,
            "line",
            {"class": "target", "x1": x, "x2": x, "y1": _n(y - 11), "y2": _n(y + 11)},
        )
    if m.actual_date:
        ET.SubElement(
            group,
            "circle",
            {"class": "actual", "cx": _n(scale.x(m.actual_date)), "cy": _n(y), "r": "5"},
        )
    elif m.forecast_date:
        x = scale.x(m.forecast_date)
        points = f"{_n(x)},{_n(y - 6)} {_n(x + 6)},{_n(y)} {_n(x)},{_n(y + 6)} {_n(x - 6)},{_n(y)}"
        ET.SubElement(group, "polygon", {"class": "forecast", "points": points})


def _state(entry: ScheduleEntry) -> str:
    m = entry.milestone
    if m.status == MilestoneStatus.CANCELLED:
        return "cancelled"
    if m.actual_date:
        return "done"
    if m.at_risk:
        return "at-risk"
    return "planned"


def _day(value: datetime.date | None) -> str:
    return date_format(value, "j M Y") if value else "not set"


def _bar_title(entry: ScheduleEntry) -> str:
    m = entry.milestone
    parts = [f"{m.title}: target {_day(m.target_date)}"]
    if m.actual_date:
        parts.append(f"happened {_day(m.actual_date)}")
    elif m.status == MilestoneStatus.CANCELLED:
        parts.append("cancelled")
    else:
        parts.append(f"forecast {_day(m.forecast_date)}")
    slip = entry.slip_days
    if slip:
        parts.append(
            f"{abs(slip)} day{'s' if abs(slip) != 1 else ''} {'late' if slip > 0 else 'early'}"
        )
    text = ", ".join(parts) + "."
    if m.at_risk:
        text += f" At risk: {m.at_risk_reason}."
    if entry.critical:
        text += " On the critical path."
    return text


def _arrows(
    layer: ET.Element,
    entry: ScheduleEntry,
    index: int,
    rows: dict[int, int],
    entries: list[ScheduleEntry],
    scale: _Scale,
    key: str,
    critical: set[int],
) -> None:
    """An elbow arrow from each dependency's date (in this chart) to the start of this
    milestone's bar: the gap between them is the wait the link imposes."""
    m = entry.milestone
    dates = [d for d in (m.target_date, m.actual_date or m.forecast_date) if d]
    if not dates:
        return
    start = min(dates)
    for link in entry.links:
        if link.depends_on_id not in rows:
            continue  # another process's milestone: named in the table below
        source = entries[rows[link.depends_on_id]].milestone
        source_date = source.actual_date or source.forecast_date or source.target_date
        if source_date is None:
            continue
        x1, y1 = scale.x(source_date), _row_y(rows[link.depends_on_id])
        x2, y2 = scale.x(start) - 4, _row_y(index)
        bend = max(x1 + 6, x2 - 10) if x2 > x1 + 12 else x1 + 6
        on_path = m.pk in critical and link.depends_on_id in critical
        classes = "arrow is-critical" if on_path else "arrow"
        ET.SubElement(
            layer,
            "path",
            {
                "class": classes,
                "d": f"M{_n(x1)},{_n(y1)} H{_n(bend)} V{_n(y2)} H{_n(x2)}",
                "marker-end": f"url(#{key}-arrow)",
            },
        )
