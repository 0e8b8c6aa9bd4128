from rest_framework import serializers

from billing.models import TimeEntry


class TimeEntryOutputSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="psa_project_id")
    billable = serializers.BooleanField(source="is_billable")

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "psa_time_entry_id",
            "project",
            "phase_code",
            "person_email",
            "role",
            "work_date",
            "hours",
            "billable",
            "category",
            "psa_bill_rate",
            "notes",
            "approved_at",
            "approved_by",
            "status",
            "trace_id",
        ]
