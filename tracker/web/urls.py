"""Pages and feeds. Names are not namespaced because the alert emails reverse
"unsubscribe" as such (tracker.alerts.unsubscribe); the others carry a "web_" prefix."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.dashboard, name="web_dashboard"),
    path("organizations/", views.organization_index, name="web_organization_list"),
    path("organizations/<slug:slug>/", views.organization_detail, name="web_organization"),
    path(
        "organizations/<slug:slug>/calendar.ics",
        views.calendar_organization,
        name="web_organization_calendar",
    ),
    path("processes/<int:pk>/", views.process_detail, name="web_process"),
    path("processes/<int:pk>/calendar.ics", views.calendar_process, name="web_process_calendar"),
    path("feeds/events.atom", views.events_feed, name="web_events_feed"),
    path("calendar.ics", views.calendar_all, name="web_calendar"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("", include("tracker.web.account_urls")),
]
