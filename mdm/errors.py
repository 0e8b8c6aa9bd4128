"""Typed errors of the customer master."""

from config.errors import DomainError


class UnknownLegalEntity(DomainError):
    """An ERP customer names a legal entity that the reference data does not hold (load it,
    then replay the event)."""

    code = "unknown_legal_entity"


class UnknownAccount(DomainError):
    """A CRM contact arrived before its account; the inbox retries it with backoff."""

    code = "unknown_account"


class MergeRefused(DomainError):
    code, http_status = "merge_refused", 409
