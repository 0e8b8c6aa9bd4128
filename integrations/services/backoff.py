import random
from datetime import timedelta

from django.conf import settings

_rng = random.SystemRandom()


def backoff_delay(attempt: int, *, base: float | None = None, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with full jitter: uniform(0.5, 1.0) x base x 2^(attempt-1), capped.

    The floor of half the nominal delay keeps a retry from coming straight back; the cap
    (1 h) is Sentry's outbox figure.
    """
    base = float(settings.OUTBOX_BACKOFF_BASE_SECONDS if base is None else base)
    nominal = min(cap, base * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=nominal * _rng.uniform(0.5, 1.0))
