"""JSON Schemas of the chat messages, written from what each service documents.

Slack, Block Kit (https://docs.slack.dev/reference/block-kit/blocks and .../composition-objects):
a message is ``text`` (the fallback for notifications) and ``blocks``, at most 50; a text
object is ``plain_text`` (optionally ``emoji``) or ``mrkdwn`` (optionally ``verbatim``); a
header holds plain text of at most 150 characters; a section holds ``text`` (at most 3000)
and/or ``fields`` (at most 10, each at most 2000) and an optional ``accessory``; a context
holds at most 10 text or image elements; an actions block at most 25 elements; a button has
plain text of at most 75 characters and a ``url`` of at most 3000.

Microsoft Teams (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/
how-to/connectors-using and the Adaptive Cards schema, https://adaptivecards.io/explorer/):
an incoming webhook or workflow takes ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <AdaptiveCard>}]}``;
the card has ``$schema``, ``type`` "AdaptiveCard", a ``version`` (Teams renders up to 1.5),
and a ``body`` of elements: here TextBlock, FactSet (facts of title and value) and
ActionSet (actions such as Action.OpenUrl with a title and url).
"""

import json

import jsonschema

_URL = {"type": "string", "pattern": r"^https?://[^\s]+$", "maxLength": 3000}


def _text(limit: int, *, plain_only: bool = False) -> dict:
    plain = {
        "type": "object",
        "properties": {
            "type": {"const": "plain_text"},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
            "emoji": {"type": "boolean"},
        },
        "required": ["type", "text"],
        "additionalProperties": False,
    }
    if plain_only:
        return plain
    mrkdwn = {
        "type": "object",
        "properties": {
            "type": {"const": "mrkdwn"},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
            "verbatim": {"type": "boolean"},
        },
        "required": ["type", "text"],
        "additionalProperties": False,
    }
    return {"oneOf": [plain, mrkdwn]}


_BUTTON = {
    "type": "object",
    "properties": {
        "type": {"const": "button"},
        "text": _text(75, plain_only=True),
        "url": _URL,
        "action_id": {"type": "string", "maxLength": 255},
        "style": {"enum": ["primary", "danger"]},
    },
    "required": ["type", "text"],
    "additionalProperties": False,
}

_BLOCK_ID = {"type": "string", "maxLength": 255}

SLACK_MESSAGE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": "header"},
                            "text": _text(150, plain_only=True),
                            "block_id": _BLOCK_ID,
                        },
                        "required": ["type", "text"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": "section"},
                            "text": _text(3000),
                            "fields": {"type": "array", "maxItems": 10, "items": _text(2000)},
                            "accessory": _BUTTON,
                            "block_id": _BLOCK_ID,
                        },
                        "required": ["type"],
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": _text(3000),
                            },
                            "block_id": _BLOCK_ID,
                        },
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": "actions"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 25,
                                "items": _BUTTON,
                            },
                            "block_id": _BLOCK_ID,
                        },
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"type": {"const": "divider"}, "block_id": _BLOCK_ID},
                        "required": ["type"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
    },
    "required": ["text", "blocks"],
    "additionalProperties": False,
}

_OPEN_URL = {
    "type": "object",
    "properties": {
        "type": {"const": "Action.OpenUrl"},
        "title": {"type": "string", "minLength": 1},
        "url": _URL,
    },
    "required": ["type", "url"],
    "additionalProperties": False,
}

_SPACING = {"enum": ["None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"]}

_ELEMENT = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "type": {"const": "TextBlock"},
                "text": {"type": "string", "minLength": 1},
                "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
                "weight": {"enum": ["Default", "Lighter", "Bolder"]},
                "color": {
                    "enum": ["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]
                },
                "style": {"enum": ["default", "heading"]},
                "isSubtle": {"type": "boolean"},
                "wrap": {"type": "boolean"},
                "spacing": _SPACING,
                "separator": {"type": "boolean"},
            },
            "required": ["type", "text"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "FactSet"},
                "facts": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "value": {"type": "string"},
                        },
                        "required": ["title", "value"],
                        "additionalProperties": False,
                    },
                },
                "spacing": _SPACING,
                "separator": {"type": "boolean"},
            },
            "required": ["type", "facts"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "ActionSet"},
                "actions": {"type": "array", "minItems": 1, "items": _OPEN_URL},
                "spacing": _SPACING,
                "separator": {"type": "boolean"},
            },
            "required": ["type", "actions"],
            "additionalProperties": False,
        },
    ]
}

ADAPTIVE_CARD = {
    "type": "object",
    "properties": {
        "$schema": {"const": "http://adaptivecards.io/schemas/adaptive-card.json"},
        "type": {"const": "AdaptiveCard"},
        "version": {"type": "string", "pattern": r"^1\.[0-5]$"},
        "fallbackText": {"type": "string"},
        "msteams": {
            "type": "object",
            "properties": {"width": {"const": "Full"}},
            "additionalProperties": False,
        },
        "body": {"type": "array", "minItems": 1, "items": _ELEMENT},
        "actions": {"type": "array", "items": _OPEN_URL},
    },
    "required": ["type", "version", "body"],
    "additionalProperties": False,
}

TEAMS_MESSAGE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": ADAPTIVE_CARD,
                },
                "required": ["contentType", "content"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["type", "attachments"],
    "additionalProperties": False,
}

# Teams refuses a message larger than about 28 KB.
TEAMS_MAX_BYTES = 28 * 1024


def validate(channel: str, body: bytes | str) -> dict:
    """Check a chat message against its service's documented shape; the parsed message."""
    raw = body.encode() if isinstance(body, str) else body
    message = json.loads(raw)
    if channel == "slack":
        jsonschema.Draft202012Validator(SLACK_MESSAGE).validate(message)
    else:
        assert len(raw) <= TEAMS_MAX_BYTES, f"{len(raw)} bytes: more than Teams takes"
        jsonschema.Draft202012Validator(TEAMS_MESSAGE).validate(message)
    return message


def texts(message: dict) -> str:
    """Every text, title, value and URL of a chat message, in order, one per line: what a
    reader sees (and where the links lead)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value", "url", "fallbackText") and isinstance(
                    value, str
                ):
                    found.append(value.replace("\u034f", ""))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    return "\n".join(found)
