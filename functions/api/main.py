"""Cloud Function ``api``: the HTTP API (sessions, laps, telemetry, training data)."""

import functions_framework
import werkzeug.exceptions

from common.api.routes import app_dispatch, framework_error
from common.logs import setup_logging

setup_logging()


@functions_framework.http
def api(request):
    """Route one HTTP request."""
    return app_dispatch(request)


# Paths that functions-framework's own router rejects before calling ``api`` (for example a
# path with a newline) get the API's JSON error shape instead of Flask's HTML page.
# ``functions_framework.errorhandler`` exists while the framework loads this module.
functions_framework.errorhandler(werkzeug.exceptions.HTTPException)(framework_error)
