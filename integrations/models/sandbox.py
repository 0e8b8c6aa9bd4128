from django.db import models


class SandboxRecord(models.Model):
    """An object kept by a simulated peer (sandbox CRM, PSA or ERP): what the peer "has".

    One row per effect: unique on (system, idempotency key), so a repeated call returns the first
    result and exactly-once is observable by counting rows.
    """

    system = models.ForeignKey(
        "integrations.ExternalSystem",
        on_delete=models.CASCADE,
        related_name="sandbox_records",
        db_index=False,  # the unique constraint's leading column
    )
    operation = models.CharField(max_length=80)
    object_type = models.CharField(max_length=60)
    external_id = models.CharField(max_length=120)
    idempotency_key = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "idempotency_key"], name="uniq_sandbox_effect"
            )
        ]
        indexes = [models.Index(fields=["external_id"], name="sandboxrecord_external_idx")]

    def __str__(self) -> str:
        return f"{self.system_id} {self.operation} {self.external_id}"


class SandboxCall(models.Model):
    """Every raw call a sandbox peer received, including failed and repeated ones."""

    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="sandbox_calls"
    )
    operation = models.CharField(max_length=80)
    idempotency_key = models.CharField(max_length=200)
    outcome = models.CharField(max_length=40)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["idempotency_key"], name="sandboxcall_key_idx")]

    def __str__(self) -> str:
        return f"{self.system_id} {self.operation} {self.outcome}"
