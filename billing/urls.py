from django.urls import path

from billing import views_projects

app_name = "billing"

urlpatterns: list = [
    path("projects/", views_projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", views_projects.project_detail, name="project_detail"),
]
