"""Upload URLs that let a client send a file straight into the bucket.

In the cloud: a V4 signed URL for ``POST`` with ``x-goog-resumable: start``. The client POSTs to
it, Cloud Storage returns a resumable session URI in ``Location``, and the client PUTs the file
there, in one piece or several. A function has no private key, so its service account signs
through the IAM Credentials ``signBlob`` API via google-auth. The account needs
``roles/iam.serviceAccountTokenCreator`` on itself.

Against fake-gcs-server (``STORAGE_EMULATOR_HOST`` set) nothing can be signed, so the API opens
the resumable session itself with the emulator's JSON API and hands out the session URL, which
the client PUTs the file to.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from .errors import ApiError

logger = logging.getLogger(__name__)

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_URI = "https://oauth2.googleapis.com/token"
_lock = threading.Lock()
_signing_credentials = None


@dataclass(frozen=True)
class UploadUrl:
    url: str
    # HTTP method of the client's first request to ``url``.
    method: str
    # Headers the client must send with that request.
    headers: dict[str, str]
    # "signed_resumable_start" (cloud) or "resumable_session" (emulator).
    kind: str
    note: str


def upload_url(bucket: str, object_name: str, content_type: str, ttl_s: int) -> UploadUrl:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        return emulator_session(emulator, bucket, object_name, content_type)
    return signed_start_url(bucket, object_name, content_type, ttl_s, signing_credentials())


def signed_start_url(bucket: str, object_name: str, content_type: str, ttl_s: int,
                     credentials) -> UploadUrl:
    """Sign a URL that starts a resumable upload of ``object_name`` (valid ``ttl_s`` seconds)."""
    from google.cloud import storage

    from ..config import settings

    headers = {"x-goog-resumable": "start", "content-type": content_type}
    # Signing happens locally with ``credentials`` (through IAM signBlob in the cloud); the
    # client only supplies the endpoint, so creating one costs no request.
    client = storage.Client(project=settings().project, credentials=credentials)
    blob = client.bucket(bucket).blob(object_name)
    # A copy: generate_signed_url adds a Host entry to the dict it is given.
    url = blob.generate_signed_url(version="v4", expiration=timedelta(seconds=ttl_s), method="POST",
                                   headers=dict(headers), credentials=credentials)
    return UploadUrl(url, "POST", headers, "signed_resumable_start",
                     "POST upload_url with these headers and no body; Cloud Storage answers 201 with "
                     "the resumable session URI in Location; PUT the file to that URI.")


def signing_credentials():
    """Return credentials that sign as the function's service account through IAM signBlob."""
    global _signing_credentials
    with _lock:
        if _signing_credentials is None:
            import google.auth
            from google.auth import iam
            from google.auth.transport.requests import Request
            from google.oauth2 import service_account

            source, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
            request = Request()
            # Compute Engine credentials learn their service account email on the first refresh.
            source.refresh(request)
            email = os.environ.get("API_SIGNER_EMAIL") or getattr(source, "service_account_email", None)
            if not email or email == "default":
                raise ApiError(503, "unavailable", "cannot sign upload URLs: the service account email "
                                                   "is unknown; set API_SIGNER_EMAIL")
            signer = iam.Signer(request, source, email)
            _signing_credentials = service_account.Credentials(signer, email, TOKEN_URI)
        return _signing_credentials


def emulator_session(emulator: str, bucket: str, object_name: str, content_type: str) -> UploadUrl:
    """Open a resumable upload session on fake-gcs-server; return its URL."""
    base = emulator if emulator.startswith("http") else f"http://{emulator}"
    query = urllib.parse.urlencode({"uploadType": "resumable", "name": object_name})
    request = urllib.request.Request(
        f"{base.rstrip('/')}/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?{query}",
        data=json.dumps({"name": object_name, "contentType": content_type}).encode(),
        method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            location = response.headers.get("Location")
    except (urllib.error.URLError, OSError) as exc:
        logger.error("opening a resumable upload on the storage emulator failed: %s", exc)
        raise ApiError(503, "unavailable", "the storage emulator did not open an upload session; "
                                           "retry later", {"Retry-After": "5"}) from exc
    if not location:
        raise ApiError(503, "unavailable", "the storage emulator returned no upload session URL",
                       {"Retry-After": "5"})
    # NOTE: fake-gcs-server cannot check signatures, so the local stack hands out an open session
    # URL instead of a signed one. Anyone who has the URL can upload to that one object.
    return UploadUrl(location, "PUT", {}, "resumable_session",
                     "Local stack: fake-gcs-server cannot verify signed URLs, so this is an open "
                     "resumable session URL; PUT the file to it. In the cloud the URL is signed.")
