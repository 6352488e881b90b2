"""Import every endpoint module so that its routes register, and expose the dispatcher."""

from . import sessions, telemetry  # noqa: F401 - registers routes
from .app import dispatch


def app_dispatch(request):
    return dispatch(request)
