"""Login lockout (docs/security.md "Logins, tokens and throttles").

API tokens are checked by ``integrations.api.auth.ApiTokenAuthentication``, never through
Django's ``authenticate()``, so the lockout does not apply to them.
"""

from axes.backends import AxesStandaloneBackend  # type: ignore[import-untyped] # no stubs


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in ``AUTHENTICATION_BACKENDS``.

    Every web login (the sign-in page, the admin's) passes its request and is counted per
    username and client IP (``AXES_LOCKOUT_PARAMETERS``). ``authenticate()`` without a request
    is code, not a login form (a shell, the test client's ``login()``): there is no client to
    count, so it is left to the password check instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
