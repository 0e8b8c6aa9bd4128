"""Writes of the customer master. Import from here: ``from mdm.services import ...``."""

from mdm.services.customers import (
    ApplyResult,
    apply_crm_account,
    apply_crm_contact,
    match_or_create_customer,
)
from mdm.services.duplicates import check_duplicates, record_not_duplicate
from mdm.services.erp_customers import apply_erp_customer, load_legal_entities
from mdm.services.merge import merge_customers
from mdm.services.sync import sync_reference_data

__all__ = [
    "ApplyResult",
    "apply_crm_account",
    "apply_crm_contact",
    "apply_erp_customer",
    "check_duplicates",
    "load_legal_entities",
    "match_or_create_customer",
    "merge_customers",
    "record_not_duplicate",
    "sync_reference_data",
]
