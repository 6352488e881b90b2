"""Cloud Function ``api``: the HTTP API (sessions, laps, telemetry, training data)."""

import functions_framework

from common.api.routes import app_dispatch
from common.logs import setup_logging

setup_logging()


@functions_framework.http
def api(request):
    """Route one HTTP request."""
    return app_dispatch(request)
