"""POST /v1/features:rebuild: rebuild the training table, for Cloud Scheduler or an operator."""

from __future__ import annotations

import json
import logging

from ..features import BuildInProgress, rebuild_features, rebuild_options
from . import schemas
from .app import connection, route
from .context import Context
from .errors import ApiError, conflict, invalid
from .responses import Body, Reply

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096

REBUILD_BODY = Body(
    "Build options; an empty body means a full rebuild.",
    {"type": "object", "additionalProperties": False, "properties": {
        "mode": {"type": "string", "enum": ["full", "incremental"], "default": "full"},
        "since": {"type": "string", "format": "date-time",
                  "description": "Incremental builds only: also recompute every race from this time."},
    }},
    max_bytes=lambda: MAX_BODY_BYTES,
    required=False,
)


@route("POST", "/v1/features:rebuild", tag="training data", scope="write", oidc=True, body=REBUILD_BODY,
       responses={200: Reply("The build's counts.", schemas.ref("RebuildResult")),
                  409: Reply("Another feature build is running on the database.", schemas.ERROR)})
def rebuild(ctx: Context):
    """Rebuild the machine-learning training table, fully or incrementally.

    Accepts an API key with the write scope, or a Google-signed OIDC token (Cloud Scheduler)
    whose email is listed in API_OIDC_EMAILS and whose audience is the API's URL
    (API_OIDC_AUDIENCE, else https:// and the request's host on Cloud Run). The request
    returns when the build has finished.
    """
    raw = ctx.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("body", f"is not valid JSON: {exc}") from None
    try:
        options = rebuild_options(body)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", str(exc)) from None
    with connection() as conn:
        try:
            counts = rebuild_features(conn, wait=False, **options)
        except BuildInProgress as exc:
            raise conflict(str(exc)) from None
    caller = ctx.principal.name if ctx.principal else "-"
    logger.info("feature rebuild requested by %s finished: %s", caller, counts)
    return counts
