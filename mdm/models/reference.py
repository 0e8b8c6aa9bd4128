from django.db import models
from simple_history.models import HistoricalRecords


class LegalEntity(models.Model):
    """One of the firm's own legal entities: who contracts, invoices and collects.

    Loaded as reference data (``load_reference`` ``legal_entities``, upsert by ``code``).
    """

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    currency = models.CharField(
        max_length=3, help_text="ISO 4217: the entity's functional currency"
    )
    tax_jurisdictions = models.JSONField(
        default=list, blank=True, help_text='Jurisdictions it invoices in, e.g. ["US-NY", "US-CA"]'
    )
    is_active = models.BooleanField(default=True)
    # Routing: the systems this entity's records go to. Empty: the only active system of the
    # kind; with two or more of a kind every entity names one (docs/connectors.md, routing).
    crm_system = models.ForeignKey(
        "integrations.ExternalSystem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="crm_entities",
        limit_choices_to={"kind": "crm"},
        verbose_name="CRM",
        help_text="Empty: the firm's only CRM.",
    )
    psa_system = models.ForeignKey(
        "integrations.ExternalSystem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="psa_entities",
        limit_choices_to={"kind": "psa"},
        verbose_name="PSA",
        help_text="Empty: the firm's only PSA.",
    )
    erp_system = models.ForeignKey(
        "integrations.ExternalSystem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="erp_entities",
        limit_choices_to={"kind": "erp"},
        verbose_name="ERP",
        help_text="Empty: the firm's only ERP. An acquired firm keeping its ledger names its own.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "legal entities"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
