"""Accounts: invitations staff send (expire, work once), sign-in, sign-out, password change
and reset by email, on the site's own pages."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tracker.models import Invitation
from tracker.services.accounts import invitation_create

User = get_user_model()


@pytest.fixture
def staff(db):
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


def _invite(client, staff, email="new@example.com") -> str:
    """Invite through the admin; returns the link from the email."""
    client.force_login(staff)
    response = client.post(reverse("admin:tracker_invitation_add"), {"email": email}, follow=True)
    assert f"Invitation emailed to {email}" in response.content.decode()
    client.logout()
    [message] = mail.outbox
    assert message.to == [email]
    [path] = re.findall(r"https?://[^/\s]+(/account/invitation/\S+/)", message.body)
    return path


def test_an_invitation_creates_a_subscriber_account_once(client, staff):
    path = _invite(client, staff)
    invitation = Invitation.objects.get()
    assert path.rstrip("/").rsplit("/", 1)[1] not in invitation.token_hash  # only a hash kept

    page = client.get(path)
    assert page.status_code == 200
    assert "new@example.com" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"

    response = client.post(
        path,
        {"username": "newbie", "password1": "tracker-secret-42", "password2": "tracker-secret-42"},
    )

    assert response.status_code == 302 and response["Location"] == reverse("account_alerts")
    user = User.objects.get(username="newbie")
    assert (user.email, user.is_staff, user.is_superuser) == ("new@example.com", False, False)
    assert client.get(reverse("account_alerts")).status_code == 200  # signed in
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.user == user

    # Used: the link works no more, and makes no second account.
    client.logout()
    again = client.get(path)
    assert again.status_code == 404
    assert "expired or has already been used" in again.content.decode()
    response = client.post(
        path,
        {"username": "second", "password1": "tracker-secret-42", "password2": "tracker-secret-42"},
    )
    assert response.status_code == 404
    assert User.objects.filter(email="new@example.com").count() == 1


def test_an_expired_invitation_is_refused(client, staff, time_machine, settings):
    path = _invite(client, staff)
    later = timezone.now() + datetime.timedelta(days=settings.ACCOUNTS_INVITATION_DAYS, seconds=1)
    time_machine.move_to(later)
    response = client.post(
        path,
        {"username": "late", "password1": "tracker-secret-42", "password2": "tracker-secret-42"},
    )
    assert response.status_code == 404
    assert "expired" in response.content.decode()
    assert not User.objects.filter(username="late").exists()


def test_a_forged_invitation_link_is_refused(client, db):
    assert client.get(reverse("account_invitation", args=["made-up"])).status_code == 404


def _account(username: str, password1: str = "tracker-secret-42", password2: str = "") -> dict:
    return {"username": username, "password1": password1, "password2": password2 or password1}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_account(""), "This field is required."),
        (_account("newbie", password2="other-secret-42"), "The two password fields didn"),
        (_account("newbie", "123"), "This password is too short"),
        (_account("boss"), "A user with that username already exists."),
    ],
)
def test_accepting_with_bad_input_says_why_and_creates_nothing(client, staff, data, error):
    path = _invite(client, staff)
    response = client.post(path, data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


def test_inviting_an_address_that_has_an_account_is_refused(client, staff):
    UserFactory(username="old", email="old@example.com")
    client.force_login(staff)
    response = client.post(
        reverse("admin:tracker_invitation_add"), {"email": "OLD@example.com"}, follow=True
    )
    assert "An account with this address exists" in response.content.decode()
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_sending_again_issues_a_new_link_and_the_old_one_stops_working(client, staff):
    old_path = _invite(client, staff)
    invitation = Invitation.objects.get()
    client.force_login(staff)
    client.post(
        reverse("admin:tracker_invitation_changelist"),
        {"action": "send_again", "_selected_action": [invitation.pk]},
    )
    client.logout()
    assert len(mail.outbox) == 2
    [new_url] = re.findall(r"/account/invitation/\S+/", mail.outbox[1].body)
    assert client.get(old_path).status_code == 404
    assert client.get(new_url).status_code == 200


def test_sign_in_and_out_on_the_sites_own_pages(client, db):
    UserFactory(username="reader", email="reader@example.com")
    page = client.get(reverse("login"))
    html = page.content.decode()
    assert '<label for="id_username">' in html and '<label for="id_password">' in html

    bad = client.post(reverse("login"), {"username": "reader", "password": "wrong"})
    assert "Please enter a correct username and password" in bad.content.decode()

    response = client.post(
        reverse("login"), {"username": "reader", "password": "correct-horse-battery"}
    )
    assert response["Location"] == reverse("account_alerts")
    assert "Sign out" in client.get(reverse("account_alerts")).content.decode()

    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("web_dashboard")
    assert client.get(reverse("account_alerts")).status_code == 302


def test_password_change(client, db):
    reader = UserFactory(username="reader")
    client.force_login(reader)
    bad = client.post(
        reverse("password_change"),
        {
            "old_password": "nope",
            "new_password1": "x-new-secret-9",
            "new_password2": "x-new-secret-9",
        },
    )
    assert "Your old password was entered incorrectly" in bad.content.decode()
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "x-new-secret-9",
            "new_password2": "x-new-secret-9",
        },
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    reader.refresh_from_db()
    assert reader.check_password("x-new-secret-9")


def test_password_reset_by_email(client, db):
    reader = UserFactory(username="reader", email="reader@example.com")
    response = client.post(reverse("password_reset"), {"email": "reader@example.com"}, follow=True)
    assert "Check your email" in response.content.decode()
    [message] = mail.outbox
    assert message.subject == "Milestone Tracker: reset your password"
    [url] = re.findall(r"http://testserver(/account/reset/\S+/)", message.body)

    form_page = client.get(url, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "reset-secret-77", "new_password2": "reset-secret-77"},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    reader.refresh_from_db()
    assert reader.check_password("reset-secret-77")


def test_the_invitation_service_refuses_a_bad_address(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        invitation_create(email="not-an-address", invited_by=None)
    assert not Invitation.objects.exists()


def test_the_unsubscribe_page_points_at_the_real_pages(client, db):
    html = client.get("/unsubscribe/garbage/").content.decode()
    assert "log in" not in html.lower()
    assert 'href="/account/login/?next=/account/alerts/"' in html
    assert 'href="/account/alerts/"' in html
    assert 'href="/account/password_reset/"' in html
