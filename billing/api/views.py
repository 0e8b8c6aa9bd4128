from rest_framework.generics import ListAPIView

from billing.api.serializers import TimeEntryOutputSerializer
from billing.filters import TimeEntryFilter
from billing.selectors import list_time_entries
from config.permissions import role_permission
from config.roles import FINANCE, INTEGRATION, PMO


class TimeEntryListView(ListAPIView):
    permission_classes = [role_permission(FINANCE, PMO, INTEGRATION)]
    serializer_class = TimeEntryOutputSerializer
    filterset_class = TimeEntryFilter
    ordering_fields = ["work_date", "psa_time_entry_id"]

    def get_queryset(self):
        return list_time_entries()
