"""A new subscriber's whole path in a real browser (Debian's Chromium via Playwright) against
the live server, with a real Celery worker on Redis, an aiosmtpd SMTP server and a local
webhook receiver:

1. sign in -> follow a process with a daily digest -> an editor changes a milestone in the
   admin -> the digest arrives at the digest hour in the subscriber's time zone -> the
   email's unsubscribe link works;
2. create a webhook endpoint in the portal -> send a test event -> see the attempt in the
   delivery log -> redeliver.

Every page is checked for labelled form fields and saved as a screenshot in
test-artifacts/ (account-*.png).
"""

import datetime
import os
import re
import time
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from tests.factories import MilestoneFactory, ProcessFactory, UserFactory
from tests.web.test_browser import ARTIFACTS, CHROMIUM, _check_structure, browser  # noqa: F401
from tracker import tasks
from tracker.models import Delivery, Subscription
from tracker.models.alerts import DeliveryStatus
from tracker.permissions import EDITORS_GROUP
from tracker.services.accounts import account_time_zone_update

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"Chromium is not installed at {CHROMIUM} (run `make browser`)",
    ),
]

PASSWORD = "correct-horse-battery"
ZONE = "Asia/Tokyo"


def _wait_until(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out waiting for {what}")


def _new_page(browser, width=1280):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return page, problems


def _fields_are_labelled(page) -> None:
    """Every visible form control has a label (or an accessible name) and a name."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main textarea')]
            .filter(e => e.type !== 'hidden')
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)"""
    )
    assert unlabelled == []


def _snap(page, name: str) -> None:
    _check_structure(page)
    _fields_are_labelled(page)
    page.screenshot(path=ARTIFACTS / f"account-{name}.png", full_page=True)


def _sign_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/account/login/?next={next_path}")
    _snap(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{next_path}")


@pytest.fixture
def subscriber(transactional_db):
    user = UserFactory(username="analyst", email="analyst@example.com", password=PASSWORD)
    account_time_zone_update(user=user, time_zone=ZONE)
    return user


@pytest.fixture
def editor_user(transactional_db):
    user = UserFactory(username="editor", is_staff=True, password=PASSWORD)
    user.groups.add(Group.objects.get(name=EDITORS_GROUP))
    return user


def test_follow_a_process_get_the_digest_at_the_digest_hour_and_unsubscribe(
    worker,
    smtp_server,
    live_server,
    browser,  # noqa: F811
    subscriber,
    editor_user,
    settings,  # noqa: F811
):
    process = ProcessFactory(title="Conversion to a PBC", organization__name="Open Lab")
    milestone = MilestoneFactory(process=process, title="Delaware AG review")
    worker.start()
    base = live_server.url
    page, problems = _new_page(browser)

    # Sign in, straight back to the process page, and follow it with a daily digest.
    _sign_in(page, base, "analyst", f"/processes/{process.pk}/")
    page.get_by_label("Email, daily digest").check()
    page.get_by_text("Only some kinds of change").click()
    page.get_by_label("Milestone status changed").check()
    _snap(page, "follow")
    page.get_by_role("button", name="Follow", exact=True).click()
    assert page.get_by_text("You follow Conversion to a PBC").first.is_visible()
    assert page.get_by_role("button", name="Unfollow").is_visible()
    subscription = Subscription.objects.get(owner=subscriber)
    assert (subscription.cadence, subscription.event_types) == (
        "daily",
        ["milestone.status_changed"],
    )

    # My alerts: the subscription in words, and the time zone.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My alerts").click()
    assert page.get_by_text("Processes: Open Lab: Conversion to a PBC").is_visible()
    assert page.get_by_text(f"Times are shown in {ZONE}").is_visible()
    _snap(page, "alerts")
    page.get_by_role("link", name=f"Edit {subscription}").click()
    _snap(page, "alert-edit")
    page.go_back()
    page.get_by_role("link", name=f"Delete {subscription}").click()
    _snap(page, "alert-delete")
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="New subscription").click()
    _snap(page, "alert-new")

    # An editor changes the milestone in the admin (another browser session).
    editor_page, _ = _new_page(browser)
    editor_page.goto(f"{base}/admin/login/?next=/admin/tracker/milestone/{milestone.pk}/change/")
    editor_page.get_by_label("Username").fill("editor")
    editor_page.get_by_label("Password").fill(PASSWORD)
    editor_page.get_by_role("button", name="Log in").click()
    editor_page.get_by_label("Status").select_option("delayed")
    editor_page.get_by_role("button", name="Save", exact=True).click()
    editor_page.wait_for_url(f"{base}/admin/tracker/milestone/")

    # The worker fans the change out: held for the subscriber's daily digest.
    held = _wait_until(
        lambda: (
            Delivery.objects.filter(subscription=subscription, status=DeliveryStatus.HELD)
            .select_related("event")
            .first()
        ),
        what="the change held for the digest",
    )
    assert not smtp_server.messages

    # Beat runs the digest task hourly. Moved to tomorrow: an hour before the digest hour in
    # Tokyo nothing is built; at the digest hour Tokyo's digest goes out, mailed through
    # the SMTP server.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    tokyo = zoneinfo.ZoneInfo(ZONE)
    tomorrow = timezone.localtime(held.created_at, tokyo).date() + datetime.timedelta(days=1)
    at_hour = datetime.datetime.combine(
        tomorrow, datetime.time(settings.ALERTS_DIGEST_HOUR), tzinfo=tokyo
    )
    with time_machine.travel(at_hour - datetime.timedelta(hours=1), tick=True):
        assert tasks.digests_build("daily") == 0
    with time_machine.travel(at_hour, tick=True):
        assert tasks.digests_build("daily") == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "analyst@example.com"
    assert mail["Subject"] == "[Tracker] Daily digest: 1 change"
    text = mail.get_body(("plain",)).get_content()
    assert "Delaware AG review" in text
    local = timezone.localtime(held.event.occurred_at, tokyo)
    assert local.strftime("%Y-%m-%d %H:%M JST") in text  # the subscriber's own time

    # The email's unsubscribe link works.
    [link] = re.findall(rf"{re.escape(settings.SITE_URL)}(/unsubscribe/\S+/)", text)
    page.goto(base + link)
    assert page.get_by_role("heading", name="Unsubscribe from these alerts?").is_visible()
    _snap(page, "unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    assert page.get_by_role("link", name="My alerts").first.is_visible()
    assert not Subscription.objects.get(pk=subscription.pk).active
    page.goto(base + "/account/alerts/")
    assert page.get_by_text("Paused").is_visible()
    assert problems == []


def test_a_webhook_endpoint_from_the_portal_test_send_log_and_redeliver(
    worker,
    receiver,
    live_server,
    browser,  # noqa: F811
    subscriber,
):
    worker.start()
    base = live_server.url
    page, problems = _new_page(browser)
    _sign_in(page, base, "analyst", "/account/webhooks/")
    _snap(page, "webhooks-empty")

    page.get_by_role("link", name="Add an endpoint").click()
    page.get_by_label("URL").fill(receiver.url("/portal"))
    page.get_by_label("Description").fill("Research desk")
    _snap(page, "webhook-new")
    page.get_by_role("button", name="Add endpoint").click()

    # The secret, once, on a page of its own.
    assert page.get_by_text("it is shown only this once").is_visible()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    _snap(page, "webhook-secret")
    page.get_by_role("link", name="I have copied it: go to the endpoint").click()
    assert secret not in page.content()

    # Send a test event; the worker delivers it to the receiver.
    page.get_by_role("button", name="Send a test event").click()
    assert page.get_by_text("Test event queued").is_visible()
    [first] = receiver.wait_for(1)
    delivery = Delivery.objects.get(endpoint__owner=subscriber)
    assert first.webhook_id == delivery.message_id
    _wait_until(
        lambda: Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED,
        what="the test delivery recorded",
    )
    page.reload()
    row = page.locator(f"#delivery-{delivery.pk}")
    assert row.get_by_text("HTTP 200").is_visible()
    assert row.get_by_text('{"ok": true}').is_visible()  # the kept response excerpt
    _snap(page, "webhook-detail")

    # Redeliver, by keyboard: the same webhook-id arrives again, and a second attempt is logged.
    row.get_by_role("button", name=f"Redeliver {delivery.message_id}").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("queued again").is_visible()
    [_, second] = receiver.wait_for(2)
    assert second.webhook_id == delivery.message_id
    _wait_until(
        lambda: (
            Delivery.objects.get(pk=delivery.pk).attempts.count() == 2
            and Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED
        ),
        what="the redelivery recorded",
    )
    page.reload()
    assert page.locator(f"#delivery-{delivery.pk}").get_by_text("HTTP 200").count() == 2

    # The list shows its health.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My webhooks").click()
    assert page.get_by_role("cell", name="Enabled").is_visible()
    assert page.get_by_text("Not failing").is_visible()
    _snap(page, "webhooks")
    page.get_by_role("link", name=receiver.url("/portal")).click()
    page.get_by_role("link", name="Edit, enable or disable").click()
    _snap(page, "webhook-edit")

    # On a phone nothing is wider than the screen (the log scrolls inside its box).
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    for name, path in [
        ("alerts-phone", "/account/alerts/"),
        ("webhook-detail-phone", f"/account/webhooks/{delivery.endpoint_id}/"),
    ]:
        phone.goto(base + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
        phone.screenshot(path=ARTIFACTS / f"account-{name}.png")
    assert problems == []


def test_invitation_password_pages_in_a_browser(live_server, browser, subscriber):  # noqa: F811
    from tracker.services.accounts import invitation_create

    _, token = invitation_create(email="invitee@example.com", invited_by=None)
    base = live_server.url
    page, problems = _new_page(browser)
    page.goto(f"{base}/account/invitation/{token}/")
    _snap(page, "invitation")
    page.get_by_label("Username").fill("invitee")
    page.get_by_label("Password:", exact=True).fill("tracker-secret-42")
    page.get_by_label("Password confirmation").fill("tracker-secret-42")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{base}/account/alerts/")
    assert page.get_by_text("Welcome!").is_visible()

    # Following works from the keyboard alone: arrow keys pick how, Tab reaches the button.
    process = ProcessFactory(title="Keyboard process")
    page.goto(f"{base}/processes/{process.pk}/")
    page.get_by_label("Email, immediately").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")  # the "Only some kinds of change" disclosure
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Follow"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    following = Subscription.objects.get(owner__username="invitee")
    assert (following.cadence, list(following.processes.all())) == ("daily", [process])
    page.goto(f"{base}/account/password_change/")
    _snap(page, "password-change")
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/account/password_reset/")
    _snap(page, "password-reset")
    page.goto(f"{base}/account/invitation/{token}/")
    assert page.get_by_text("already been used").is_visible()
    assert settings.LOGIN_URL == "login"
    assert problems == [] or all("404" in p for p in problems)
