from django.urls import path

from billing.api import projects, views

urlpatterns = [
    path("time-entries/", views.TimeEntryListView.as_view(), name="time-entry-list"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetailView.as_view(), name="project-detail"),
]
