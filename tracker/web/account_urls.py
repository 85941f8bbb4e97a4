"""Subscribers' pages under /account/ (Django's sign-in, sign-out and password views
included), and the follow buttons of the organization and process pages."""

from django.urls import include, path

from . import account_views as views

urlpatterns = [
    # Django's login, logout (a POST), password change and reset, with templates/registration/.
    path("account/", include("django.contrib.auth.urls")),
    path("account/alerts/", views.alerts, name="account_alerts"),
    path("account/alerts/new/", views.alert_create, name="account_alert_create"),
    path("account/alerts/<int:pk>/", views.alert_edit, name="account_alert"),
    path("account/alerts/<int:pk>/pause/", views.alert_pause, name="account_alert_pause"),
    path("account/alerts/<int:pk>/delete/", views.alert_delete, name="account_alert_delete"),
    path("account/time-zone/", views.time_zone, name="account_time_zone"),
    path("account/webhooks/", views.webhooks, name="account_webhooks"),
    path("account/webhooks/new/", views.webhook_create, name="account_webhook_create"),
    path("account/webhooks/<int:pk>/", views.webhook_detail, name="account_webhook"),
    path("account/webhooks/<int:pk>/edit/", views.webhook_edit, name="account_webhook_edit"),
    path(
        "account/webhooks/<int:pk>/rotate-secret/",
        views.webhook_rotate,
        name="account_webhook_rotate",
    ),
    path("account/webhooks/<int:pk>/test/", views.webhook_test, name="account_webhook_test"),
    path("account/webhooks/<int:pk>/delete/", views.webhook_delete, name="account_webhook_delete"),
    path(
        "account/webhooks/<int:pk>/resend-failed/",
        views.webhook_resend_failed,
        name="account_webhook_resend_failed",
    ),
    path(
        "account/webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver/",
        views.webhook_redeliver,
        name="account_webhook_redeliver",
    ),
    path("account/invitation/<str:token>/", views.invitation, name="account_invitation"),
    path(
        "organizations/<slug:key>/follow/",
        views.follow,
        {"kind": "organization"},
        name="account_follow_organization",
    ),
    path(
        "organizations/<slug:key>/unfollow/",
        views.unfollow,
        {"kind": "organization"},
        name="account_unfollow_organization",
    ),
    path(
        "processes/<int:key>/follow/",
        views.follow,
        {"kind": "process"},
        name="account_follow_process",
    ),
    path(
        "processes/<int:key>/unfollow/",
        views.unfollow,
        {"kind": "process"},
        name="account_unfollow_process",
    ),
]
