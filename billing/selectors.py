from django.db.models import QuerySet

from billing.models import TimeEntry


def list_time_entries() -> QuerySet[TimeEntry]:
    return TimeEntry.objects.order_by("-work_date", "psa_time_entry_id")
