from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("traces/<str:trace_id>/", views.trace_detail, name="trace_detail"),
    path("operations/", views.operations, name="operations"),
]
