from django.urls import path

from integrations.api import views
from integrations.webhooks.views import receive_outbound_message_view, receive_webhook_view

urlpatterns = [
    path("hooks/schemas/", views.WebhookSchemaView.as_view(), name="hook-schemas"),
    path("hooks/<slug:system>/", receive_webhook_view, name="hook-receive"),
    path(
        "hooks/salesforce/<slug:system>/outbound-message/",
        receive_outbound_message_view,
        name="hook-salesforce-outbound-message",
    ),
    path("events/", views.EventListView.as_view(), name="event-list"),
    path("events/<int:pk>/", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<int:pk>/replay/", views.EventReplayView.as_view(), name="event-replay"),
    path(
        "events/<int:pk>/replay-preview/",
        views.EventReplayPreviewView.as_view(),
        name="event-replay-preview",
    ),
    path("outbox/", views.OutboxListView.as_view(), name="outbox-list"),
    path("outbox/replay/", views.OutboxBulkReplayView.as_view(), name="outbox-bulk-replay"),
    path("outbox/<uuid:pk>/", views.OutboxDetailView.as_view(), name="outbox-detail"),
    path("outbox/<uuid:pk>/replay/", views.OutboxReplayView.as_view(), name="outbox-replay"),
    path(
        "outbox/<uuid:pk>/replay-preview/",
        views.OutboxReplayPreviewView.as_view(),
        name="outbox-replay-preview",
    ),
    path("systems/", views.SystemListView.as_view(), name="system-list"),
    path("systems/<slug:slug>/breaker/", views.BreakerView.as_view(), name="system-breaker"),
    path("traces/<str:trace_id>/", views.TraceDetailView.as_view(), name="trace-detail"),
]
