"""The REST API's throttles (docs/contract.md §2, docs/security.md).

Counted in Django's default cache: Redis when ``REDIS_URL`` is set (shared by every web
process), else the embedded default's file cache under ``var/`` (shared by the processes of one
machine). The rates are read from settings on every request (``API_THROTTLE_PER_TOKEN``,
``API_THROTTLE_ANON``, e.g. ``"600/min"``), so they follow the environment and tests. A
throttled request answers 429 with ``Retry-After`` (seconds) and DRF's ``{"detail": "Request
was throttled. Expected available in N seconds."}``.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    setting = ""
    num_requests: int | None  # set by SimpleRateThrottle.__init__ from the rate
    duration: int | None

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting) or None

    def wait(self) -> float | None:
        """Seconds until the oldest request that fills the window leaves it."""
        if not self.num_requests or not self.duration or len(self.history) < self.num_requests:
            return None
        return max(0.0, self.history[self.num_requests - 1] + self.duration - self.now)


class TokenRateThrottle(_SettingsRateThrottle):
    """Per API token (``request.auth.throttle_key``), else per signed-in user."""

    scope, setting = "token", "API_THROTTLE_PER_TOKEN"

    def get_cache_key(self, request, view) -> str | None:
        key = getattr(request.auth, "throttle_key", None)
        if key:
            ident = f"token.{key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user.{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Per client IP, for requests that carry no credentials (the public resources)."""

    scope, setting = "anon", "API_THROTTLE_ANON"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
