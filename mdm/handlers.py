"""Inbox handlers of customer events (registered in MdmConfig.ready)."""

from mdm.services import apply_crm_account, apply_crm_contact, apply_erp_customer


def handle_crm_account_upserted(event) -> None:
    apply_crm_account(system=event.system, data=event.data)


def handle_crm_contact_upserted(event) -> None:
    apply_crm_contact(system=event.system, data=event.data)


def handle_erp_customer_upserted(event) -> None:
    apply_erp_customer(system=event.system, data=event.data)
