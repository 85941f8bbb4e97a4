"""The invitation email, built from the invitation and the token of its link; the admin
hands it to the email transport (tracker.alerts.transports)."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from tracker.models import Invitation


def invitation_url(token: str) -> str:
    """The absolute link that accepts an invitation."""
    return settings.SITE_URL + reverse("account_invitation", args=[token])


def invitation_email(invitation: Invitation, token: str) -> EmailMultiAlternatives:
    """The email that brings an invitation's link to its address."""
    context = {
        "invitation": invitation,
        "url": invitation_url(token),
        "site_url": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject="[Tracker] You are invited to follow the Milestone Tracker",
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    return message
