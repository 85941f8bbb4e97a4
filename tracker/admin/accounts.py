"""Admin for invitations: staff invite someone by address; the link is emailed, never shown
(only its hash is stored), and "send again" issues a fresh one."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from tracker.accounts.emails import invitation_email
from tracker.alerts.transports import email_send
from tracker.models import Invitation
from tracker.services.accounts import invitation_create, invitation_renew

from .service_admin import ServiceAdminMixin, adopt


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email"]


@admin.register(Invitation)
class InvitationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = InvitationForm
    list_display = ["email", "invited_by", "created_at", "expires_at", "state", "user"]
    list_filter = ["accepted_at"]
    search_fields = ["email"]
    readonly_fields = ["invited_by", "created_at", "expires_at", "accepted_at", "user"]
    actions = ["send_again"]

    def get_fields(self, request, obj=None):
        return ["email", *self.readonly_fields] if obj else ["email"]

    def has_change_permission(self, request, obj=None):
        # Shown read-only; only "send again" changes an invitation, through the service.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="State")
    def state(self, invitation):
        if invitation.accepted_at:
            return "Accepted"
        return "Waiting"

    def save_model(self, request, obj, form, change):
        invitation, token = invitation_create(
            email=form.cleaned_data["email"], invited_by=request.user
        )
        adopt(obj, invitation)
        self._send(request, invitation, token)

    def _send(self, request, invitation, token):
        outcome = email_send(invitation_email(invitation, token))
        if outcome.succeeded:
            self.message_user(
                request,
                f"Invitation emailed to {invitation.email}; the link works once, until "
                f"{invitation.expires_at:%Y-%m-%d %H:%M %Z}.",
            )
        else:
            self.message_user(
                request,
                f"The invitation to {invitation.email} could not be emailed ({outcome.error}). "
                "Use “Send again” once mail works.",
                level=messages.ERROR,
            )

    def response_add(self, request, obj, post_url_continue=None):
        # The admin's own "was added successfully" would repeat the message above.
        return self.response_post_save_add(request, obj)

    @admin.action(description="Send again (a new link; the old one stops working)")
    def send_again(self, request, queryset):
        for invitation in queryset:
            try:
                renewed, token = invitation_renew(invitation=invitation)
            except ValidationError as error:
                self.message_user(request, f"{invitation}: {error.messages[0]}", messages.ERROR)
            else:
                self._send(request, renewed, token)


_admin_login = admin.site.login


def _login_or_own_pages(request, extra_context=None):
    # A signed-in subscriber (not staff) who opens /admin/ goes to their own pages instead
    # of the admin's "not authorized" login form: the admin is for staff only.
    if request.user.is_authenticated and not request.user.is_staff:
        return redirect("account_alerts")
    return _admin_login(request, extra_context)


# Set before the admin's URLs are built (this module is imported by admin.autodiscover).
admin.site.login = _login_or_own_pages
