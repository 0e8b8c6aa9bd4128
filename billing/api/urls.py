from django.urls import path

from billing.api import views

urlpatterns = [
    path("time-entries/", views.TimeEntryListView.as_view(), name="time-entry-list"),
]
