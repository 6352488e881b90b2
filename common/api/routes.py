"""Import every endpoint module so that its routes register, and expose the dispatcher."""

from . import features, laps, openapi, parse, sessions, telemetry, training, uploads  # noqa: F401
from .app import dispatch, framework_error  # noqa: F401 - used by functions/api/main.py


def app_dispatch(request):
    return dispatch(request)
