"""A live Tryton for the session: the database initialised once (cached under the tests'
var dir, see integrations/connectors/tryton/server.py), served by gunicorn on a free loopback
port. Tests share it and never assume a clean Tryton: they create what they need under
unique codes. Without trytond the tests skip locally and fail under CI=true."""

import pytest
from django.conf import settings

from tests.helpers import require


@pytest.fixture(scope="session")
def live_tryton():
    from integrations.connectors.tryton.server import (
        TrytonServer,
        TrytonUnavailable,
        check_available,
    )

    try:
        check_available()
    except TrytonUnavailable as exc:
        require(False, str(exc))
    server = TrytonServer(settings.VAR_DIR)
    server.ensure_database()
    server.start()
    yield server
    server.discard()  # its working copy; the cached database stays for the next session


@pytest.fixture
def tryton(live_tryton):
    """The session's server (the same one each time), for a test that needs it."""
    return live_tryton
