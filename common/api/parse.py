"""POST /v1/parse: read an uploaded file and return what was found, storing nothing."""

from __future__ import annotations

import logging

from .. import formats
from ..commands.report import describe_session
from ..config import settings
from ..errors import TerminalError, TransientError
from ..laps import detect_laps
from ..parse.stage import unexpected_reason
from . import schemas
from .app import route
from .context import Context
from .errors import ApiError
from .params import Param
from .responses import Body, Reply

logger = logging.getLogger(__name__)

PARSE_BODY = Body(
    "The file's bytes, as they are on disk.",
    {"type": "string", "format": "binary"},
    max_bytes=lambda: settings().max_request_bytes,
    media_types=("application/octet-stream",),
)


@route("POST", "/v1/parse", tag="parse", body=PARSE_BODY,
       query=(Param("name", "string", "The file's name; breaks ties when the content fits several "
                                      "formats, and appears in messages.", default="upload",
                    max_length=200),),
       responses={200: Reply("What `simtel inspect --json` prints for the file.",
                             schemas.ref("ParseResult")),
                  413: Reply("The file is larger than MAX_REQUEST_BYTES.", schemas.ERROR),
                  422: Reply("The file cannot be read as telemetry; the message says where and why.",
                             schemas.ERROR)})
def parse_file(ctx: Context):
    """Parse a file and describe it (format, metadata, channels, quality) without storing it.

    Files larger than MAX_REQUEST_BYTES (32 MiB by default; Cloud Functions accepts at most
    32 MiB per request) must go through POST /v1/uploads instead.
    """
    data = ctx.body()
    name = ctx.query["name"].replace("/", "_")
    try:
        session = formats.parse(data, name, {})
    except TerminalError as exc:
        raise ApiError(422, "unreadable_file", str(exc)) from None
    except (MemoryError, TransientError):
        raise
    except Exception as exc:
        logger.exception("reader raised an unexpected error", extra={"object": name})
        raise ApiError(422, "unreadable_file", unexpected_reason(name, exc)) from None
    return describe_session(session, detect_laps(session))
