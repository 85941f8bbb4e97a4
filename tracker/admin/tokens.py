"""Admin for API tokens: creating one shows its key once, on a page of its own; tokens are
revoked, not edited. The list says what each key may do, until when, and when it was last
used."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone

from tracker.models import ApiToken
from tracker.services.tokens import api_token_create, api_token_revoke

from .secrets import ShownSecret, secret_page


class ApiTokenCreateForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "scope", "expires_at"]
        widgets = {"scope": forms.RadioSelect}

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "scope",
        "expires_at",
        "last_used_at",
        "created_at",
        "status",
    ]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scope",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="status")
    def status(self, token: ApiToken) -> str:
        if not token.is_active:
            return f"revoked {timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M}"
        if token.is_expired(timezone.now()):
            return "expired"
        return "active"

    def get_queryset(self, request):
        # Only superusers manage other people's tokens.
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            # Otherwise any staff user could mint a key that acts as a superuser.
            kwargs["queryset"] = type(request.user)._default_manager.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ApiTokenCreateForm.Meta.fields if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # Nothing about a token changes but its revocation (the "revoke" action).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Revoked tokens are kept: they say who had access and until when.
        return False

    def save_model(self, request, obj, form, change):
        token, raw_key = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            expires_at=form.cleaned_data["expires_at"],
        )
        # The admin goes on to log and redirect with ``obj``; make it the created row.
        obj.pk = token.pk
        obj.prefix, obj.key_hash, obj.created_at = token.prefix, token.key_hash, token.created_at
        obj._state.adding = False
        # Only for this request's response (response_add); never stored.
        request._new_api_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        return secret_page(
            self,
            request,
            title=f"The key of “{obj.name}”",
            secrets=[
                ShownSecret(
                    label=f"{obj.name} ({obj.get_scope_display()})", value=request._new_api_key
                )
            ],
            note="Copy this key now: it is not stored and will not be shown again.",
            back_url=reverse("admin:tracker_apitoken_changelist"),
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
        self.message_user(request, "Revoked.", messages.SUCCESS)
