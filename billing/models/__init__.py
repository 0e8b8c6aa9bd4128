from billing.models.approvals import ApprovalAction, ApprovalRequest, ApprovalRule
from billing.models.deals import EventSubscription, OpportunityDeal
from billing.models.invoices import BillingRun, Invoice, InvoiceLine, InvoiceLineEntry
from billing.models.periods import AccountingPeriod, PeriodMove
from billing.models.projects import (
    Contract,
    Milestone,
    Phase,
    Project,
    ProjectTemplate,
    TemplatePhase,
)
from billing.models.rates import BillingRule, Rate, RateCard, RateCardVersion
from billing.models.reference import FxRate, Person, Role, TaxRate
from billing.models.time import TimeEntry

__all__ = [
    "AccountingPeriod",
    "ApprovalAction",
    "ApprovalRequest",
    "ApprovalRule",
    "BillingRule",
    "BillingRun",
    "Contract",
    "EventSubscription",
    "FxRate",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineEntry",
    "Milestone",
    "OpportunityDeal",
    "PeriodMove",
    "Person",
    "Phase",
    "Project",
    "ProjectTemplate",
    "Rate",
    "RateCard",
    "RateCardVersion",
    "Role",
    "TaxRate",
    "TemplatePhase",
    "TimeEntry",
]
