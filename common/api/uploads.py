"""Upload endpoints: hand out a direct upload URL, and report what an upload became.

Large files never pass through the function: the client sends them straight to the bucket,
under ``incoming/<upload_id>/<filename>``, where the bucket notification starts the pipeline.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta

from ..config import settings
from . import schemas
from .app import connection, route
from .context import Context
from .errors import ApiError, invalid, not_found, too_large
from .params import Param
from .responses import Body, Reply
from .signing import upload_url

# Most bytes of the JSON request body.
MAX_BODY_BYTES = 16 * 1024
FILENAME_PATTERN = r"^(?!\.{1,2}$)[^/\\\x00-\x1f\x7f]{1,200}$"
_FILENAME = re.compile(FILENAME_PATTERN)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def url_ttl_s() -> int:
    """Seconds a signed upload URL stays valid (API_UPLOAD_URL_TTL_S, default 900)."""
    return int(os.environ.get("API_UPLOAD_URL_TTL_S", "900"))


UPLOAD_BODY = Body(
    "The file to upload. Upload a MoTeC .ldx first and pass its upload_id with the .ld file, so "
    "that both land in one folder.",
    {"type": "object", "required": ["filename"], "additionalProperties": False, "properties": {
        "filename": {"type": "string", "pattern": FILENAME_PATTERN, "maxLength": 200,
                     "description": "The file's name, without folders."},
        "size_bytes": {"type": "integer", "minimum": 0,
                       "description": "The file's size; larger than MAX_UPLOAD_BYTES is rejected."},
        "content_type": {"type": "string", "minLength": 1, "maxLength": 100,
                         "pattern": r"^[\w.+-]+/[\w.+-]+$",
                         "description": "Media type; default application/octet-stream."},
        "upload_id": {"type": "string", "pattern": _UUID.pattern,
                      "description": "Put the file in the folder of this earlier upload."},
    }},
    max_bytes=lambda: MAX_BODY_BYTES,
)


@route("POST", "/v1/uploads", tag="uploads", scope="write", body=UPLOAD_BODY,
       responses={201: Reply("Where and how to upload the file.", schemas.ref("Upload")),
                  413: Reply("size_bytes is over MAX_UPLOAD_BYTES, or the body is too large.",
                             schemas.ERROR)})
def create_upload(ctx: Context):
    """Get a resumable upload URL for sending a file straight into the bucket.

    In the cloud the URL is a V4 signed URL that starts a resumable upload (POST it with the
    returned headers, then PUT the file to the Location header of its response). On the local stack it is a
    resumable session URL of the storage emulator (PUT the file to it). Follow the result at
    status_url.
    """
    body = ctx.json()
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    unknown = set(body) - {"filename", "size_bytes", "content_type", "upload_id"}
    if unknown:
        raise invalid(min(unknown), "is not a field of this request")
    filename = body.get("filename")
    if not isinstance(filename, str) or not _FILENAME.match(filename):
        raise invalid("filename", "must be a file name of 1 to 200 characters without folders or "
                                  "control characters")
    size = body.get("size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise invalid("size_bytes", f"must be a whole number of bytes, found {size!r}")
    limit = settings().max_upload_bytes
    if size is not None and size > limit:
        raise too_large(limit, f"file ({size} bytes)")
    content_type = body.get("content_type", "application/octet-stream")
    if not isinstance(content_type, str) or not re.fullmatch(r"[\w.+-]+/[\w.+-]+", content_type):
        raise invalid("content_type", f"must be a media type such as text/csv, found {content_type!r}")
    bucket = settings().raw_bucket
    upload_id = body.get("upload_id")
    with connection() as conn:
        if upload_id is not None:
            if not isinstance(upload_id, str) or not _UUID.match(upload_id) or not conn.run(
                    "SELECT 1 FROM api_uploads WHERE bucket = :b AND object_name LIKE :p LIMIT 1",
                    b=bucket, p=f"incoming/{upload_id}/%"):
                raise invalid("upload_id", "must be the upload_id of an earlier upload")
        else:
            upload_id = str(uuid.uuid4())
        object_name = f"incoming/{upload_id}/{filename}"
        ttl = url_ttl_s()
        target = upload_url(bucket, object_name, content_type, ttl)
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        rows = conn.run(
            "INSERT INTO api_uploads (object_name, bucket, filename, size_bytes, key_id, expires_at) "
            "VALUES (:o, :b, :f, :s, :k, :e) ON CONFLICT (bucket, object_name) DO NOTHING RETURNING 1",
            o=object_name, b=bucket, f=filename, s=size,
            k=ctx.principal.key_id if ctx.principal else None, e=expires)
        if not rows:
            raise ApiError(409, "conflict", f"{object_name} was already handed out; choose another "
                                            "filename or upload_id")
    return {
        "upload_id": upload_id,
        "bucket": bucket,
        "object": object_name,
        "upload_url": target.url,
        "method": target.method,
        "headers": target.headers,
        "kind": target.kind,
        "note": target.note,
        "expires_at": expires.isoformat(),
        "status_url": "/v1/uploads/" + urllib.parse.quote(object_name),
    }, 201


@route("GET", "/v1/uploads/{object:path}", tag="uploads",
       path_params=(Param("object", "string", "The object name POST /v1/uploads returned, such as "
                                              "incoming/<upload_id>/<filename>.",
                          where="path", max_length=1024),),
       responses={200: Reply("The upload and the session it became.", schemas.ref("UploadStatus"))})
def upload_status(ctx: Context):
    """Report what an uploaded object became: waiting for the upload, or its session and status."""
    object_name = ctx.path["object"]
    bucket = settings().raw_bucket
    with connection() as conn:
        issued = conn.run("SELECT created_at, expires_at, size_bytes FROM api_uploads "
                          "WHERE bucket = :b AND object_name = :o", b=bucket, o=object_name)
        sources = conn.run(
            "SELECT s.session_id, s.status, s.reason, src.generation, src.size_bytes, src.received_at "
            "FROM sources src JOIN sessions s USING (session_key) "
            "WHERE src.bucket = :b AND src.object_name = :o ORDER BY src.received_at DESC, "
            "src.source_key DESC LIMIT 1", b=bucket, o=object_name)
    if not issued and not sources:
        raise not_found(f"upload {object_name}")
    body = {
        "bucket": bucket,
        "object": object_name,
        "state": "received" if sources else "pending",
        "issued_at": issued[0][0].isoformat() if issued else None,
        "url_expires_at": issued[0][1].isoformat() if issued else None,
        "session": None,
    }
    if sources:
        session_id, status, reason, generation, size, received = sources[0]
        body["session"] = {"id": session_id, "status": status, "reason": reason,
                           "generation": generation, "size_bytes": size,
                           "received_at": received.isoformat(), "url": f"/v1/sessions/{session_id}"}
    return body
