"""What alerts say: the webhook body and the emails, built from rows already loaded.

Nothing here queries the database or touches the network; the sending code loads the rows
(with the owner's profile, whose time zone the emails' times are shown in) and hands the
result to a transport.
"""

import datetime
import json
from itertools import groupby

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from tracker.models import Event, EventType, MilestoneStatus, WebhookEndpoint
from tracker.models.accounts import user_time_zone
from tracker.models.alerts import TEST_EVENT_TYPE, Delivery, Digest
from tracker.snapshots import event_payload

from .unsubscribe import unsubscribe_path


def webhook_body(delivery: Delivery) -> str:
    """The Standard Webhooks JSON body: ``{"type", "id", "timestamp", "data"}``.

    ``id`` is the event's public UUID (the same for every subscriber); ``data`` is the
    versioned event payload. A test delivery carries a small description instead.
    """
    if delivery.event is None:
        document = {
            "type": TEST_EVENT_TYPE,
            "id": delivery.message_id,
            "timestamp": delivery.created_at.isoformat(),
            "data": {
                "message": "A test event from Milestone Tracker. Your endpoint works.",
                "endpoint": delivery.endpoint_id,
            },
        }
    else:
        event = delivery.event
        document = {
            "type": event.type,
            "id": str(event.uuid),
            "timestamp": event.occurred_at.isoformat(),
            "data": event_payload(event),
        }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def endpoint_signing_secrets(endpoint: WebhookEndpoint, now: datetime.datetime) -> list[str]:
    """The secrets that sign now: the current one, plus the previous during its grace period."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def digest_title(digest: Digest, count: int) -> str:
    """ "Daily digest: 3 changes", as the email's subject and the chat message's heading."""
    return f"{digest.get_cadence_display()}: {count} change{'s' if count != 1 else ''}"


def _absolute_unsubscribe_url(subscription) -> str:
    return settings.SITE_URL + unsubscribe_path(subscription)


def _list_headers(unsubscribe_url: str) -> dict[str, str]:
    # RFC 2369 / RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def event_item(event: Event) -> dict:
    """One event as the email templates show it."""
    payload = event_payload(event)
    milestone = dict(payload["milestone"] or {})
    if milestone.get("status") in MilestoneStatus.values:
        milestone["status"] = MilestoneStatus(milestone["status"]).label.lower()
    changes = [
        {"field": name.replace("_", " "), "old": values[0], "new": values[1]}
        for name, values in sorted(event.changes.items())
        if isinstance(values, list | tuple) and len(values) == 2
    ]
    days_left = None
    if event.type == EventType.MILESTONE_DEADLINE_APPROACHING and milestone.get("target_date"):
        target = datetime.date.fromisoformat(milestone["target_date"])
        # Days as the site counts them (its time zone), not as UTC does.
        days_left = (target - timezone.localtime(event.occurred_at).date()).days
    return {
        "type": event.type,
        "label": EventType(event.type).label if event.type in EventType.values else event.type,
        "occurred_at": event.occurred_at,
        "actor": event.actor_name,
        "organization": payload["organization"] or {},
        "process": payload["process"] or {},
        "milestone": milestone,
        "changes": changes,
        "days_left": days_left,
    }


def _subject_of(item: dict) -> str:
    what = (
        item["milestone"].get("title")
        or item["process"].get("title")
        or item["organization"].get("name")
        or "the record"
    )
    return f"{item['label']}: {what}"


def email_for_delivery(delivery: Delivery) -> EmailMultiAlternatives:
    """The immediate email for one delivery (text and HTML, with unsubscribe headers), to
    its owner's address as it is now."""
    subscription = delivery.subscription
    unsubscribe_url = _absolute_unsubscribe_url(subscription)
    item = event_item(delivery.event)
    context = {
        "item": item,
        "subscription": subscription,
        "unsubscribe_url": unsubscribe_url,
        "site_url": settings.SITE_URL,
    }
    return _email(
        subject=f"[Tracker] {_subject_of(item)}",
        to=delivery.owner.email,
        zone=user_time_zone(delivery.owner),
        template="emails/event",
        context=context,
        headers=_list_headers(unsubscribe_url),
    )


def email_for_digest(digest: Digest, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    """A digest: the period's events grouped by process, then by milestone; to the owner's
    address as it is now."""
    subscription = digest.subscription
    unsubscribe_url = _absolute_unsubscribe_url(subscription)
    items, processes = digest_processes(deliveries)
    context = {
        "digest": digest,
        "processes": processes,
        "count": len(items),
        "subscription": subscription,
        "unsubscribe_url": unsubscribe_url,
        "site_url": settings.SITE_URL,
    }
    return _email(
        subject=f"[Tracker] {digest_title(digest, len(items))}",
        to=subscription.owner.email,
        zone=user_time_zone(subscription.owner),
        template="emails/digest",
        context=context,
        headers=_list_headers(unsubscribe_url),
    )


def digest_processes(deliveries: list[Delivery]) -> tuple[list[dict], list[dict]]:
    """A digest's events as items (see ``event_item``), and grouped by process (by
    organization and title), then by milestone: what every digest format shows."""
    items = [event_item(d.event) for d in deliveries]
    items.sort(
        key=lambda i: (
            i["organization"].get("name") or "",
            i["process"].get("title") or "",
            i["process"].get("id") or 0,
            i["occurred_at"],
        )
    )
    processes = []
    # Keyed on the organization too: its own events (no process) are a group of their own.
    for _, process_items in groupby(
        items, key=lambda i: (i["organization"].get("id"), i["process"].get("id"))
    ):
        process_items = list(process_items)
        processes.append(
            {
                "process": process_items[0]["process"],
                "organization": process_items[0]["organization"],
                "milestones": _group_by_milestone(process_items),
            }
        )
    return items, processes


def _group_by_milestone(items: list[dict]) -> list[dict]:
    # One entry per milestone (or one for the process itself), its events in time order;
    # the entry shows the latest state, so a milestone changed five times is listed once.
    entries: dict[object, dict] = {}
    for item in items:
        key = item["milestone"].get("id") or ("process", item["process"].get("id"))
        entry = entries.setdefault(key, {"milestone": item["milestone"], "events": []})
        entry["milestone"] = item["milestone"]
        entry["events"].append(item)
    return list(entries.values())


def email_for_endpoint_disabled(endpoint: WebhookEndpoint) -> EmailMultiAlternatives:
    """Tells an endpoint's owner that it was disabled, and why."""
    kind = "webhook" if endpoint.channel == "webhook" else endpoint.get_channel_display()
    context = {"endpoint": endpoint, "kind": kind, "site_url": settings.SITE_URL}
    return _email(
        subject=f"[Tracker] Your {kind} endpoint was disabled",
        to=endpoint.owner.email,
        zone=user_time_zone(endpoint.owner),
        template="emails/endpoint_disabled",
        context=context,
    )


def _email(
    *,
    subject: str,
    to: str,
    zone: datetime.tzinfo,
    template: str,
    context: dict,
    headers: dict | None = None,
) -> EmailMultiAlternatives:
    # Times are shown in the recipient's own time zone (the templates name it).
    with timezone.override(zone):
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        # A title may hold a newline, which a header may not (Django raises BadHeaderError).
        subject=" ".join(subject.split()),
        body=text,
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(html, "text/html")
    return message
