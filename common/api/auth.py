"""Who is calling: an API key, or a Google-signed OIDC token on the routes that accept one.

API keys come in ``X-API-Key`` or ``Authorization: Bearer <key>``. Cloud Scheduler cannot hold
an API key, so the routes marked ``oidc=True`` (POST /v1/features:rebuild) also accept the OIDC
token it sends in ``Authorization: Bearer``. Such a token is accepted when Google signed it and
its verified email is listed in ``API_OIDC_EMAILS``. Its audience must be the API's URL, which
is ``API_OIDC_AUDIENCE``. When that is unset on Cloud Run (``K_SERVICE`` set), the audience is
``https://`` and the request's Host, because a function cannot be given its own URL before it
is deployed. With ``API_OIDC_EMAILS`` unset (the local stack) OIDC tokens are rejected, because
verifying one needs Google's public certificates from the internet.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import flask
import pg8000.native

from .errors import ApiError, forbidden, unauthenticated
from .keys import TOKEN_PREFIX, find_key, touch_key

logger = logging.getLogger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
# Seconds between two updates of a key's last_used_at.
TOUCH_EVERY_S = 300


@dataclass(frozen=True)
class Principal:
    # "key" or "oidc".
    kind: str
    # The key's name, or the service account email of an OIDC token.
    name: str
    scopes: tuple[str, ...]
    key_id: int | None = None
    # Requests per window for this key; None means the default limit.
    rate_limit: int | None = None


def presented_token(request: flask.Request) -> str | None:
    """Return the key or token the request carries, or None."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(conn: pg8000.native.Connection, request: flask.Request,
                 accepts_oidc: bool) -> Principal:
    """Identify the caller; raise 401 when it sends no valid credential."""
    token = presented_token(request)
    if token is None:
        raise unauthenticated("an API key is required: send it in the X-API-Key header or as "
                              "'Authorization: Bearer <key>'")
    if token.startswith(TOKEN_PREFIX):
        key = find_key(conn, token)
        if key is None:
            raise unauthenticated("the API key is not valid or was revoked")
        if key.last_used_at is None or _age_s(key.last_used_at) > TOUCH_EVERY_S:
            touch_key(conn, key, TOUCH_EVERY_S)
        principal = Principal("key", key.name, key.scopes, key.key_id, key.rate_limit)
    elif accepts_oidc and token.count(".") == 2:
        principal = _oidc_principal(token, request)
    else:
        raise unauthenticated("the credential is not an API key (API keys start with "
                              f"{TOKEN_PREFIX!r})")
    return principal


def require_scope(principal: Principal, scope: str) -> None:
    """Raise 403 unless the caller has ``scope``."""
    if scope not in principal.scopes:
        raise forbidden(f"the {principal.kind} {principal.name!r} may not use this endpoint: it needs "
                        f"the {scope!r} scope and has {', '.join(principal.scopes)}")


def _age_s(when: datetime) -> float:
    return (datetime.now(UTC) - when).total_seconds()


def oidc_settings(request: flask.Request) -> tuple[str, frozenset[str]]:
    """Return the expected audience ('' when OIDC is off) and the allowed emails."""
    emails = frozenset(e.strip().lower() for e in os.environ.get("API_OIDC_EMAILS", "").split(",")
                       if e.strip())
    audience = os.environ.get("API_OIDC_AUDIENCE", "").strip()
    if not audience and os.environ.get("K_SERVICE"):
        audience = f"https://{request.host}"
    return (audience if emails else ""), emails


def _oidc_principal(token: str, request: flask.Request) -> Principal:
    audience, emails = oidc_settings(request)
    if not audience:
        raise unauthenticated("OIDC tokens are not accepted here (API_OIDC_EMAILS, or the audience in "
                              "API_OIDC_AUDIENCE, is not set); send an API key")
    email = verify_oidc(token, audience, emails)
    # A scheduler account may run jobs but gets no other rights.
    return Principal("oidc", email, ("read", "write"))


def verify_oidc(token: str, audience: str, allowed_emails: frozenset[str],
                certs_url: str = GOOGLE_CERTS_URL) -> str:
    """Verify a Google-signed OIDC token; return its email, or raise 401/403/503.

    Checks the signature against the certificates at ``certs_url``, the expiry, the audience,
    the issuer, and that the email is verified and allowed.
    """
    import google.auth.exceptions
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_token(token, google_requests.Request(), audience=audience,
                                       certs_url=certs_url)
    except google.auth.exceptions.TransportError as exc:
        logger.error("fetching the OIDC certificates failed: %s", exc)
        raise ApiError(503, "unavailable", "cannot verify the OIDC token now; retry later",
                       {"Retry-After": "30"}) from exc
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        raise unauthenticated(f"the OIDC token is not valid: {exc}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise unauthenticated(f"the OIDC token was not issued by Google (iss {claims.get('iss')!r})")
    email = str(claims.get("email", "")).lower()
    if not email or claims.get("email_verified") is not True:
        raise unauthenticated("the OIDC token carries no verified email")
    if email not in allowed_emails:
        raise forbidden(f"{email} is not allowed to call this endpoint (see API_OIDC_EMAILS)")
    return email
