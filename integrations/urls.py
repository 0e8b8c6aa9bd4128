from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("traces/<str:trace_id>/", views.trace_detail, name="trace_detail"),
    path("operations/", views.operations, name="operations"),
    path("operations/outbox/<uuid:message_id>/replay/", views.outbox_replay, name="outbox_replay"),
    path("operations/events/<int:event_id>/replay/", views.event_replay, name="event_replay"),
]
