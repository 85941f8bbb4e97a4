"""Sending one prepared message over one channel. The only alert code that does network I/O
(webhooks and chat messages through tracker.alerts.http, email through Django's mail
backend).

A transport never raises for a failed send: it returns an Outcome that the caller records as
a DeliveryAttempt, so every try is logged the same way whatever went wrong.
"""

import contextlib
import datetime
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from . import http
from .guard import RefusedTarget
from .signing import signature_header


@dataclass
class Outcome:
    attempted_at: datetime.datetime
    duration_ms: int = 0
    succeeded: bool = False
    http_status: int | None = None
    response_body: str = ""
    error: str = ""
    # Retrying will not help (refused by the SSRF guard, recipient refused).
    permanent: bool = False
    # The receiver answered that it wants no more messages (410 Gone; for a chat service
    # also 404, its answer for a webhook that was removed): the endpoint is disabled.
    gone: bool = False


@dataclass
class WebhookMessage:
    url: str
    message_id: str
    body: str
    secrets: list[str] = field(default_factory=list)


def webhook_send(message: WebhookMessage) -> Outcome:
    """POST one signed Standard Webhooks message; success is a 2xx answer only."""
    now = timezone.now()
    outcome = Outcome(attempted_at=now)
    headers = {
        "content-type": "application/json",
        "user-agent": "MilestoneTracker-Webhooks/1",
        "webhook-id": message.message_id,
        # The signing time, not the event's: receivers reject timestamps that are too old.
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(
            secrets_in_use=message.secrets,
            message_id=message.message_id,
            timestamp=now,
            body=message.body,
        ),
    }
    return _post(message.url, message.body, headers, outcome, gone_statuses=(410,))


@dataclass
class ChatMessage:
    url: str
    body: str  # JSON in the chat service's own format (tracker.alerts.chat)


# A Slack incoming webhook answers 404 (no_service, channel_not_found) once it was removed
# and 410 (channel_is_archived) once its channel was archived; a deleted Teams webhook or
# workflow answers 404. Neither comes back: the endpoint is disabled and its owner told.
CHAT_GONE_STATUSES = (404, 410)


def chat_send(message: ChatMessage) -> Outcome:
    """POST one chat message as plain JSON (the chat services verify no signature);
    success is a 2xx answer only."""
    outcome = Outcome(attempted_at=timezone.now())
    headers = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "MilestoneTracker-Chat/1",
    }
    return _post(message.url, message.body, headers, outcome, gone_statuses=CHAT_GONE_STATUSES)


def _post(
    url: str, body: str, headers: dict[str, str], outcome: Outcome, *, gone_statuses: tuple
) -> Outcome:
    started = time.monotonic()
    try:
        response = http.post(url, body=body.encode(), headers=headers)
    except RefusedTarget as error:
        outcome.error = str(error)
        outcome.permanent = True
    except http.RequestFailed as error:
        outcome.error = str(error)
    else:
        outcome.http_status = response.status
        outcome.response_body = response.body.decode("utf-8", errors="replace")
        outcome.succeeded = 200 <= response.status < 300
        if response.status in gone_statuses:
            outcome.gone = True
            outcome.permanent = True
            reason = HTTPStatus(response.status).phrase
            outcome.error = f"The receiver answered {response.status} {reason}."
        elif 300 <= response.status < 400:
            outcome.error = f"Answered {response.status}; redirects are not followed."
        elif not outcome.succeeded:
            outcome.error = f"Answered {response.status}; only 2xx counts as success."
    outcome.duration_ms = round((time.monotonic() - started) * 1000)
    return outcome


def email_send(message: EmailMultiAlternatives) -> Outcome:
    """Hand one email to the configured mail backend (SMTP in production)."""
    [outcome] = emails_send([message])
    return outcome


def emails_send(emails: list[EmailMultiAlternatives]) -> list[Outcome]:
    """Hand emails to the configured mail backend over one connection (one SMTP session),
    one outcome each, all within ``EMAIL_TOTAL_TIMEOUT``: when the time is up the
    connection is cut (EMAIL_TIMEOUT only bounds each socket operation, which a server
    answering a byte at a time never reaches) and what was not sent fails, to be retried."""
    connection = get_connection(fail_silently=False)
    total = settings.EMAIL_TOTAL_TIMEOUT
    deadline = time.monotonic() + total
    timer = threading.Timer(total, _cut, [connection])
    timer.daemon = True
    timer.start()
    outcomes = []
    try:
        try:
            connection.open()  # held open for all of them (send_messages would close it)
        except (smtplib.SMTPException, OSError) as error:
            failed = f"Sending mail failed: {error}"
            return [Outcome(attempted_at=timezone.now(), error=failed) for _ in emails]
        for message in emails:
            if time.monotonic() >= deadline:
                outcome = Outcome(attempted_at=timezone.now())
                outcome.error = f"Not sent: the mail server took longer than {total:g} s."
            else:
                message.connection = connection
                outcome = _email_send(message)
                if not outcome.succeeded and time.monotonic() >= deadline:
                    outcome.error = f"The mail server took longer than {total:g} s; cut off."
            outcomes.append(outcome)
    finally:
        timer.cancel()
        with contextlib.suppress(Exception):
            connection.close()
    return outcomes


def _cut(connection) -> None:
    # The SMTP backend's smtplib.SMTP, once open: shutting its socket down ends any read or
    # write in progress in the sending thread at once.
    sock = getattr(getattr(connection, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _email_send(message: EmailMultiAlternatives) -> Outcome:
    outcome = Outcome(attempted_at=timezone.now())
    started = time.monotonic()
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        outcome.error = f"The mail server refused the recipient: {error.recipients}"
        outcome.permanent = True
    except (smtplib.SMTPException, OSError) as error:
        outcome.error = f"Sending mail failed: {error}"
    except ValueError as error:
        # A header the mail library refuses (BadHeaderError, a bad address): the same on
        # every retry.
        outcome.error = f"The message could not be sent as built: {error!r}"
        outcome.permanent = True
    else:
        outcome.succeeded = True
    outcome.duration_ms = round((time.monotonic() - started) * 1000)
    return outcome
