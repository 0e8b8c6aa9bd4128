"""How often and how patiently each kind of outbox message is retried."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one kind of message is retried."""

    max_attempts: int
    backoff_base_seconds: float | None = None  # None: OUTBOX_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = 3600


# By operation prefix; the longest matching prefix wins. Invoices get more patience than
# notifications because a lost invoice is lost money.
RETRY_POLICIES: dict[str, RetryPolicy] = {
    "erp.invoice.": RetryPolicy(max_attempts=12),
    "crm.event.publish": RetryPolicy(max_attempts=5),
    "psa.event.publish": RetryPolicy(max_attempts=5),
    "erp.event.publish": RetryPolicy(max_attempts=5),
}


def retry_policy(kind: str) -> RetryPolicy:
    matches = [prefix for prefix in RETRY_POLICIES if kind.startswith(prefix)]
    if matches:
        return RETRY_POLICIES[max(matches, key=len)]
    return RetryPolicy(max_attempts=settings.OUTBOX_MAX_ATTEMPTS)
