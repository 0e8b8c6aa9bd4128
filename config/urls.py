from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboards/", views.dashboards, name="dashboards"),
    path("dashboards/<slug:name>/", views.dashboard, name="dashboard"),
    path("favicon.ico", views.favicon),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_v1", "v1"))),
    path("", include("integrations.urls")),
    path("", include("exceptions_queue.urls")),
    path("", include("mdm.urls")),
    path("", include("billing.urls")),
]
