from rest_framework.generics import ListAPIView, RetrieveAPIView

from config.policy import api_permission
from mdm import selectors
from mdm.api.serializers import CustomerOutputSerializer
from mdm.filters import CustomerFilter
from mdm.models import Customer

CanViewCustomers = api_permission("customers")


class _CustomerContext:
    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["owners"] = selectors.get_field_owners()
        return context

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI document: no database
            return Customer.objects.none()
        return selectors.list_customers()


class CustomerListView(_CustomerContext, ListAPIView):
    """Golden records with billing profiles, contacts and each field's owning system."""

    permission_classes = [CanViewCustomers]
    serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["name", "created_at", "id"]


class CustomerDetailView(_CustomerContext, RetrieveAPIView):
    permission_classes = [CanViewCustomers]
    serializer_class = CustomerOutputSerializer
