"""Rate limits per API key and per client address, shared by every instance through PostgreSQL.

A fixed window per identity: one UPSERT on ``api_rate_limits`` counts the request for the key
and for the address at once and returns the counts. The window start is computed by the
database clock, so instances with skewed clocks still share one window.

The client address is the entry that the front end appended to ``X-Forwarded-For``. Google's
front end appends the address it saw as the LAST entry. Entries before it come from the client
and can be forged, so they are ignored. ``API_TRUSTED_PROXY_HOPS`` sets how many entries from
the end to skip to (1 behind Google's front end, 2 behind an external Application Load
Balancer that appends its own address after the client's, 0 to use the TCP peer address when
nothing sits in front). IPv6 clients are counted per /64 network, since one host usually owns a
whole /64 and could rotate addresses inside it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import random
from dataclasses import dataclass

import flask
import pg8000.native

from .errors import ApiError

logger = logging.getLogger(__name__)

# Share of requests that also delete counters of windows long past, so the table stays small.
CLEANUP_PROBABILITY = 0.001


@dataclass(frozen=True)
class Limits:
    # Requests per window per key (0: no limit); a key's own rate_limit overrides it.
    per_key: int
    # Requests per window per client address (0: no limit), authenticated or not.
    per_address: int
    window_s: int
    proxy_hops: int


def limits() -> Limits:
    """Read the limits from the environment (documented in docs/api.md)."""
    return Limits(
        per_key=_env_int("API_RATE_LIMIT_PER_KEY", 1200),
        per_address=_env_int("API_RATE_LIMIT_PER_ADDRESS", 2400),
        window_s=max(1, _env_int("API_RATE_LIMIT_WINDOW_S", 60)),
        proxy_hops=_env_int("API_TRUSTED_PROXY_HOPS", 1),
    )


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, found {raw!r}") from None
    if value < 0:
        raise ValueError(f"environment variable {name} must be 0 or more, found {value}")
    return value


def client_address(request: flask.Request, proxy_hops: int) -> str:
    """Return the client's address as the trusted front end reported it."""
    if proxy_hops > 0:
        header = request.headers.get("X-Forwarded-For", "")
        entries = [entry.strip() for entry in header.split(",") if entry.strip()]
        if len(entries) >= proxy_hops:
            return _network(entries[-proxy_hops])
    return _network(request.remote_addr or "unknown")


def _network(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        # Not an address (a proxy misconfiguration); count it as given, cut to a sane length.
        return address[:100]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


_UPSERT = """
INSERT INTO api_rate_limits AS r (identity, window_start, hits)
SELECT identity, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / :w) * :w), 1
FROM unnest(CAST(:ids AS text[])) AS identity
ON CONFLICT (identity) DO UPDATE SET
    hits = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.hits + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING identity, hits,
    extract(epoch FROM window_start + make_interval(secs => :w) - clock_timestamp())::float8
"""


def check(conn: pg8000.native.Connection, counted: dict[str, int], window_s: int) -> None:
    """Count one request for each identity in ``counted`` (identity -> limit per window).

    Raise a 429 with ``Retry-After`` (whole seconds until the window ends) when any identity is
    over its limit. Identities with a limit of 0 are not counted.
    """
    ids = sorted(identity for identity, limit in counted.items() if limit > 0)
    if not ids:
        return
    rows = conn.run(_UPSERT, ids=ids, w=window_s)
    over = [(identity, hits, remaining) for identity, hits, remaining in rows
            if hits > counted[identity]]
    if random.random() < CLEANUP_PROBABILITY:
        conn.run("DELETE FROM api_rate_limits WHERE window_start < now() - make_interval(secs => :keep)",
                 keep=window_s * 10)
    if over:
        identity, hits, remaining = over[0]
        retry_after = max(1, math.ceil(remaining))
        kind = "API key" if identity.startswith("key:") else "client address"
        if hits == counted[identity] + 1:
            logger.warning("rate limit reached for %s (%d requests per %d s)", identity,
                           counted[identity], window_s)
        raise ApiError(429, "rate_limited",
                       f"too many requests for this {kind}: the limit is {counted[identity]} requests "
                       f"per {window_s} s; retry after {retry_after} s",
                       {"Retry-After": str(retry_after)})
