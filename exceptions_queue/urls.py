from django.urls import path

from exceptions_queue import views

app_name = "exceptions_queue"

urlpatterns = [
    path("exceptions/", views.queue_index, name="index"),
    path("exceptions/items/<int:item_id>/", views.item_detail, name="item_detail"),
    path("exceptions/items/<int:item_id>/claim/", views.item_claim, name="item_claim"),
    path("exceptions/items/<int:item_id>/assign/", views.item_assign, name="item_assign"),
    path("exceptions/items/<int:item_id>/comment/", views.item_comment, name="item_comment"),
    path("exceptions/items/<int:item_id>/dismiss/", views.item_dismiss, name="item_dismiss"),
    path(
        "exceptions/items/<int:item_id>/resolve/<slug:action>/",
        views.item_resolve,
        name="item_resolve",
    ),
    path("exceptions/<slug:queue>/", views.item_list, name="item_list"),
    path("exceptions/<slug:queue>/bulk/", views.item_bulk, name="item_bulk"),
]
