"""What alerts say in Slack and Microsoft Teams: each chat's own message format.

Slack gets Block Kit blocks with a plain-text ``text`` fallback (shown in notifications and
by clients that cannot draw blocks); Teams gets a message with one Adaptive Card
attachment, the shape both its incoming webhooks and its Power Automate workflows take.
Text that comes from the record is sent as plain text (Slack) or with its Markdown
characters neutralised (Teams), so a title cannot turn into formatting or a link.

Like tracker.alerts.messages, nothing here queries the database or touches the network:
the sending code loads the rows and hands the JSON to tracker.alerts.transports.
"""

import json

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tracker.models import EventType, MilestoneStatus
from tracker.models.accounts import user_time_zone
from tracker.models.alerts import Channel, Delivery, Digest
from tracker.models.processes import ProcessStatus

from .messages import digest_processes, digest_title, event_item

# Slack Block Kit limits (https://api.slack.com/reference/block-kit): a message holds at
# most 50 blocks (a digest takes at most 3 + 2 * DIGEST_MAX_PROCESSES); a header's text 150
# characters, a section's 3000, a section field's 2000 and at most 10 fields; a button's
# text 75.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_MAX_FIELDS = 10
SLACK_BUTTON_TEXT_MAX = 75
# Processes listed in one digest message: each takes two blocks in Slack, and Teams refuses
# messages over about 28 KB. The rest is counted and linked to.
DIGEST_MAX_PROCESSES = 20
# Lines (events) listed per process in a digest message.
DIGEST_MAX_LINES = 15
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def chat_body(delivery: Delivery) -> str:
    """The JSON body of one event (or of a test message) for the delivery's chat channel,
    with times in the owner's time zone."""
    with timezone.override(user_time_zone(delivery.owner)):
        if delivery.event is None:
            message = _test_message(delivery)
        else:
            message = _event_message(event_item(delivery.event))
    return _render(delivery.channel, message)


def chat_digest_body(digest: Digest, deliveries: list[Delivery]) -> str:
    """The JSON body of one digest, for its subscription's chat channel: its changes grouped
    by process, in one chat message, dated in the owner's time zone (the zone its period was
    cut in)."""
    with timezone.override(user_time_zone(digest.subscription.owner)):
        return _digest_body(digest, deliveries, digest.subscription.channel)


def _digest_body(digest: Digest, deliveries: list[Delivery], channel: str) -> str:
    items, processes = digest_processes(deliveries)
    title = digest_title(digest, len(items))
    period = (
        f"{timezone.localtime(digest.period_start):%Y-%m-%d} to "
        f"{timezone.localtime(digest.period_end):%Y-%m-%d}"
    )
    sections = []
    for group in processes[:DIGEST_MAX_PROCESSES]:
        events = [event for entry in group["milestones"] for event in entry["events"]]
        lines = [_digest_line(event) for event in events[:DIGEST_MAX_LINES]]
        if len(events) > DIGEST_MAX_LINES:
            lines.append(f"… and {len(events) - DIGEST_MAX_LINES} more")
        sections.append(
            {
                "heading": _where(group["organization"], group["process"]),
                "lines": lines,
                "url": _process_url(group["process"]),
            }
        )
    left_out = sum(
        len(entry["events"])
        for group in processes[DIGEST_MAX_PROCESSES:]
        for entry in group["milestones"]
    )
    footer = f"Milestone Tracker · {period}"
    if left_out:
        footer = f"… and {left_out} more changes in other processes. " + footer
    message = {
        "title": title,
        "context": footer,
        "facts": [],
        "notes": [],
        "sections": sections,
        "link": ("Open Milestone Tracker", settings.SITE_URL + "/"),
        "fallback": f"{title} ({period}): "
        + "; ".join(s["heading"] for s in sections)
        + f". {settings.SITE_URL}/",
    }
    return _render(channel, message)


# --- What a message says, whatever the chat ----------------------------------------------


def _event_message(item: dict) -> dict:
    milestone = item["milestone"]
    subject = milestone.get("title") or item["process"].get("title") or "the record"
    title = f"{item['label']}: {subject}"
    where = _where(item["organization"], item["process"])
    when = f"{timezone.localtime(item['occurred_at']):%Y-%m-%d %H:%M %Z}, by {item['actor']}"
    facts = [
        (
            change["field"].capitalize(),
            f"{_value(item, change, 'old')} → {_value(item, change, 'new')}",
        )
        for change in item["changes"]
    ]
    notes = []
    if item["days_left"] is not None:
        days = item["days_left"]
        notes.append(
            f"Target date {milestone['target_date']}, in {days} day{'s' if days != 1 else ''}."
        )
    if item["type"] == EventType.MILESTONE_OVERDUE:
        notes.append(
            f"Target date {milestone.get('target_date')} has passed and it is not completed."
        )
    state = _state(milestone)
    if state:
        notes.append(state)
    label, url = _event_link(item)
    fallback = f"{title} ({where})"
    if facts:
        fallback += ": " + "; ".join(f"{name.lower()} {change}" for name, change in facts)
    return {
        "title": title,
        "context": f"{where} · {when}",
        "facts": facts,
        "notes": notes,
        "sections": [],
        "link": (label, url),
        "fallback": f"{fallback}. {url}",
    }


def _test_message(delivery: Delivery) -> dict:
    name = Channel(delivery.channel).label
    text = f"A test message from Milestone Tracker: your {name} endpoint works."
    return {
        "title": "Test message",
        "context": f"Milestone Tracker · {delivery.message_id}",
        "facts": [],
        "notes": [text],
        "sections": [],
        "link": ("Open Milestone Tracker", settings.SITE_URL + "/"),
        "fallback": text,
    }


def _where(organization: dict, process: dict) -> str:
    return " · ".join(p for p in (organization.get("name"), process.get("title")) if p) or "—"


def _value(item: dict, change: dict, which: str) -> str:
    value = change[which]
    if value is None or value == "":
        return "(none)"
    if change["field"] == "status":
        statuses = MilestoneStatus if item["type"].startswith("milestone.") else ProcessStatus
        if value in statuses.values:
            return statuses(value).label
    return str(value)


def _state(milestone: dict) -> str:
    parts = []
    if milestone.get("status"):
        parts.append(f"Status: {milestone['status']}")
    if milestone.get("target_date"):
        parts.append(f"target date {milestone['target_date']}")
    if milestone.get("actual_date"):
        parts.append(f"happened {milestone['actual_date']}")
    return ", ".join(parts) + "." if parts else ""


def _digest_line(item: dict) -> str:
    subject = item["milestone"].get("title")
    line = f"• {item['label']}" + (f": {subject}" if subject else "")
    changes = [
        f"{change['field']} {_value(item, change, 'old')} → {_value(item, change, 'new')}"
        for change in item["changes"]
    ]
    return line + (f" ({'; '.join(changes)})" if changes else "")


def _process_url(process: dict) -> str:
    if process.get("id"):
        return settings.SITE_URL + reverse("web_process", args=[process["id"]])
    return settings.SITE_URL + "/"


def _event_link(item: dict) -> tuple[str, str]:
    """The page of what the event is about, as the site's pages link it: the milestone's
    place in its process's timeline, or the process (a deleted milestone has no place)."""
    process_url = _process_url(item["process"])
    milestone_id = item["milestone"].get("id")
    if milestone_id and item["type"] != EventType.MILESTONE_DELETED:
        return "Open milestone", f"{process_url}#milestone-{milestone_id}"
    if item["process"].get("id") and item["type"] != EventType.PROCESS_DELETED:
        return "Open process", process_url
    return "Open Milestone Tracker", settings.SITE_URL + "/"


# --- Slack and Teams formats ---------------------------------------------------------------


def _render(channel: str, message: dict) -> str:
    build = _slack if channel == Channel.SLACK else _teams
    return json.dumps(build(message), separators=(",", ":"), ensure_ascii=False)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = SLACK_SECTION_MAX) -> dict:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": False}


def _slack_button(label: str, url: str) -> dict:
    return {"type": "button", "text": _plain(label, SLACK_BUTTON_TEXT_MAX), "url": url}


def _slack(message: dict) -> dict:
    blocks = [
        {"type": "header", "text": _plain(message["title"], SLACK_HEADER_MAX)},
        {"type": "context", "elements": [_plain(message["context"])]},
    ]
    facts = message["facts"]
    if facts:
        fields = [
            _plain(f"{name}\n{change}", SLACK_FIELD_MAX)
            for name, change in facts[:SLACK_MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    if message["notes"]:
        blocks.append({"type": "section", "text": _plain("\n".join(message["notes"]))})
    for section in message["sections"]:
        blocks.append({"type": "divider"})
        blocks.append(
            {
                "type": "section",
                "text": _plain(section["heading"] + "\n" + "\n".join(section["lines"])),
                "accessory": _slack_button("Open process", section["url"]),
            }
        )
    label, url = message["link"]
    blocks.append({"type": "actions", "elements": [_slack_button(label, url)]})
    return {"text": _slack_escape(message["fallback"]), "blocks": blocks}


def _slack_escape(text: str) -> str:
    # The top-level text is read as mrkdwn: unescaped, "<!channel>" in a title would notify a
    # whole channel and "<https://...|x>" would be a link (Slack's documented escaping).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_safe(text: str) -> str:
    # Teams renders a Markdown subset in TextBlocks and facts; a combining grapheme joiner
    # before each marker shows the character as typed instead (as healthchecks does).
    for marker in ("\\", "*", "_", "[", "]", "`", "~", "#"):
        text = text.replace(marker, "\u034f" + marker)
    return text


def _teams(message: dict) -> dict:
    body = [
        {
            "type": "TextBlock",
            "text": _md_safe(message["title"]),
            "size": "Medium",
            "weight": "Bolder",
            "style": "heading",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": _md_safe(message["context"]),
            "isSubtle": True,
            "spacing": "None",
            "wrap": True,
        },
    ]
    if message["facts"]:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": _md_safe(name), "value": _md_safe(change)}
                    for name, change in message["facts"]
                ],
            }
        )
    for note in message["notes"]:
        body.append({"type": "TextBlock", "text": _md_safe(note), "wrap": True})
    for section in message["sections"]:
        body.append(
            {
                "type": "TextBlock",
                "text": _md_safe(section["heading"]),
                "weight": "Bolder",
                "separator": True,
                "wrap": True,
            }
        )
        body.extend(
            {"type": "TextBlock", "text": _md_safe(line), "spacing": "None", "wrap": True}
            for line in section["lines"]
        )
        body.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Open process", "url": section["url"]}
                ],
            }
        )
    label, url = message["link"]
    body.append(
        {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": label, "url": url}]}
    )
    card = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": message["fallback"],
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD_TYPE, "contentUrl": None, "content": card}],
    }
