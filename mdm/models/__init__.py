from mdm.models.customers import BillingProfile, Contact, Customer
from mdm.models.governance import DuplicateDecision, FieldOwnership
from mdm.models.reference import LegalEntity

__all__ = [
    "BillingProfile",
    "Contact",
    "Customer",
    "DuplicateDecision",
    "FieldOwnership",
    "LegalEntity",
]
