from django.urls import path

from exceptions_queue.api import views

urlpatterns = [
    path("exceptions/", views.ExceptionItemListView.as_view(), name="exception-list"),
    path("exceptions/<int:pk>/", views.ExceptionItemDetailView.as_view(), name="exception-detail"),
    path(
        "exceptions/<int:pk>/resolve/",
        views.ExceptionItemResolveView.as_view(),
        name="exception-resolve",
    ),
    path(
        "exceptions/<int:pk>/assign/",
        views.ExceptionItemAssignView.as_view(),
        name="exception-assign",
    ),
    path(
        "exceptions/<int:pk>/comment/",
        views.ExceptionItemCommentView.as_view(),
        name="exception-comment",
    ),
    path(
        "exceptions/<int:pk>/dismiss/",
        views.ExceptionItemDismissView.as_view(),
        name="exception-dismiss",
    ),
]
