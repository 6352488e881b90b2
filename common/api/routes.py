"""Import every endpoint module so that its routes register, and expose the dispatcher."""

from . import features, laps, openapi, parse, sessions, telemetry, training, uploads  # noqa: F401
from .app import dispatch


def app_dispatch(request):
    return dispatch(request)
