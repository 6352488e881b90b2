"""Unit tests of the API's pure parts: downsampling, lap alignment, parameters, cursors, client
address, OIDC verification, upload URL signing and the docs page files. No stack needed."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import threading
import time
import urllib.parse

import numpy as np
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from common.api import alignment, cursors
from common.api.downsample import lttb_indices, minmax_indices
from common.api.errors import ApiError
from common.api.params import Param, parse_query
from common.api.ratelimit import client_address


def _spiky(n: int = 10_000, spike_at: int = 4321):
    t = np.arange(n) / 100.0
    smooth = np.sin(t).astype(np.float32)
    spike = np.zeros(n, dtype=np.float32)
    spike[spike_at] = 5.0
    return t, smooth, spike


def test_minmax_keeps_spike_row():
    t, smooth, spike = _spiky()
    rows = minmax_indices(t, [smooth, spike], 200)
    assert 4321 in rows


def test_minmax_stays_within_budget():
    t, smooth, spike = _spiky()
    rows = minmax_indices(t, [smooth, spike], 200)
    assert len(rows) <= 200
    assert np.all(np.diff(rows) > 0)


def test_minmax_keeps_extremes_of_each_channel():
    t, smooth, _ = _spiky()
    rows = minmax_indices(t, [smooth], 50)
    assert smooth[rows].max() == smooth.max()
    assert smooth[rows].min() == smooth.min()


def test_minmax_ignores_missing_values():
    t = np.arange(1000) / 10.0
    values = np.full(1000, np.nan, dtype=np.float32)
    values[500] = 3.0
    rows = minmax_indices(t, [values], 20)
    assert 500 in rows


def test_minmax_short_series_unchanged():
    t = np.arange(10) / 10.0
    rows = minmax_indices(t, [np.ones(10)], 100)
    assert rows.tolist() == list(range(10))


def test_lttb_keeps_spike_row():
    t, _, spike = _spiky()
    rows = lttb_indices(t, [spike], 300)
    assert 4321 in rows


def test_lttb_stays_within_budget():
    t, smooth, spike = _spiky()
    rows = lttb_indices(t, [smooth, spike], 300)
    assert len(rows) <= 300
    assert rows[0] == 0
    assert rows[-1] == len(t) - 1


def test_counter_wrap_counts_typical_step():
    # A lap distance that reaches 998 m, wraps to 1 m at the line and goes on by 1 m per sample.
    values = np.array([995.0, 996.0, 997.0, 998.0, 1.0, 2.0, 3.0])
    distance = alignment.from_counter(values)
    assert distance.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_counter_noise_never_goes_back():
    distance = alignment.from_counter(np.array([10.0, 11.0, 10.8, 12.0]))
    assert distance.tolist() == pytest.approx([0.0, 1.0, 1.0, 2.2])


def test_speed_integration_metres():
    t = np.arange(0, 10.01, 0.5)
    distance = alignment.from_speed(t, np.full(len(t), 36.0))
    assert distance[-1] == pytest.approx(100.0)


def test_align_constant_speeds_delta():
    t_a = np.arange(0, 30.001, 0.05)
    t_b = np.arange(0, 36.001, 0.05)
    a = alignment.trace(t_a, None, None, np.full(len(t_a), 120.0))
    b = alignment.trace(t_b, None, None, np.full(len(t_b), 100.0))
    result = alignment.align(a, b, 11)
    assert result["length_m"] == pytest.approx(1000.0, abs=0.01)
    assert result["delta_s"][5] == pytest.approx(3.0, abs=1e-3)
    assert result["delta_s"][-1] == pytest.approx(6.0, abs=1e-3)


def test_trace_prefers_lap_distance():
    t = np.arange(0, 10.0, 1.0)
    lap = alignment.trace(t, t * 10.0, t * 99.0, np.full(10, 36.0))
    assert lap.source == "lap_distance"
    assert lap.distance_m[-1] == pytest.approx(90.0)


def test_trace_falls_back_to_speed():
    t = np.arange(0, 10.0, 1.0)
    lap = alignment.trace(t, np.full(10, np.nan), None, np.full(10, 36.0))
    assert lap.source == "speed"


def test_trace_without_channels_is_none():
    assert alignment.trace(np.arange(5.0), None, None, None) is None


def _query(text: str) -> Request:
    return Request(EnvironBuilder(path="/x", query_string=text).get_environ())


PARAMS = (
    Param("limit", "integer", "", default=50, minimum=1, maximum=500),
    Param("names", "list", ""),
    Param("after", "datetime", ""),
    Param("status", "string", "", choices=("ready", "failed")),
)


def test_param_integer_range_names_parameter():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("limit=900").args)
    assert caught.value.status == 422
    assert caught.value.message == "parameter limit must be at most 500, found 900"


def test_param_integer_text_rejected():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("limit=ten").args)
    assert "parameter limit must be an integer" in caught.value.message


def test_param_defaults_filled():
    values = parse_query(PARAMS, _query("").args)
    assert values == {"limit": 50, "names": None, "after": None, "status": None}


def test_param_list_csv_quoting():
    raw = urllib.parse.urlencode({"names": '"Temp, Inner",speed,O\'Brien,Speed"; DROP'})
    values = parse_query(PARAMS, _query(raw).args)
    assert values["names"] == ["Temp, Inner", "speed", "O'Brien", 'Speed"; DROP']


def test_param_list_empty_item_rejected():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("names=a,,b").args)
    assert caught.value.message.startswith("parameter names must be a comma-separated list")


def test_param_datetime_zulu():
    values = parse_query(PARAMS, _query("after=2025-05-17T09:41:07Z").args)
    assert values["after"] == dt.datetime(2025, 5, 17, 9, 41, 7, tzinfo=dt.UTC)


def test_param_datetime_naive_is_utc():
    values = parse_query(PARAMS, _query("after=2025-05-17T09:41:07").args)
    assert values["after"].tzinfo == dt.UTC


def test_param_choice_rejected():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("status=done").args)
    assert caught.value.message == "parameter status must be one of ready, failed, found 'done'"


def test_param_nul_rejected():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("status=a%00b").args)
    assert "NUL" in caught.value.message


def test_parse_query_rejects_unknown():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("limt=5").args)
    assert caught.value.message.startswith("parameter limt is not a parameter of this endpoint")


def test_parse_query_rejects_repeated():
    with pytest.raises(ApiError) as caught:
        parse_query(PARAMS, _query("limit=5&limit=6").args)
    assert caught.value.message == "parameter limit is given more than once"


def test_cursor_round_trip():
    assert cursors.decode(cursors.encode("2025-01-01T00:00:00+00:00", 5, 7), (str, int, int)) == (
        "2025-01-01T00:00:00+00:00", 5, 7)


@pytest.mark.parametrize("cursor", ["zzz", cursors.encode("x"), cursors.encode(2**70), cursors.encode(True)])
def test_cursor_invalid_rejected(cursor):
    with pytest.raises(ApiError) as caught:
        cursors.decode(cursor, (int,))
    assert caught.value.status == 422


def _request(forwarded: str | None, remote: str = "10.1.2.3") -> Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return Request(EnvironBuilder(path="/", headers=headers,
                                  environ_base={"REMOTE_ADDR": remote}).get_environ())


def test_client_address_last_forwarded_entry():
    assert client_address(_request("203.0.113.9, 198.51.100.7"), 1) == "198.51.100.7"


def test_client_address_forged_first_entry_ignored():
    first = client_address(_request("1.1.1.1, 198.51.100.7"), 1)
    second = client_address(_request("8.8.8.8, 198.51.100.7"), 1)
    assert first == second


def test_client_address_two_hops():
    assert client_address(_request("203.0.113.9, 198.51.100.7, 35.191.0.1"), 2) == "198.51.100.7"


def test_client_address_no_proxy_uses_peer():
    assert client_address(_request("203.0.113.9"), 0) == "10.1.2.3"


def test_client_address_without_header_uses_peer():
    assert client_address(_request(None), 1) == "10.1.2.3"


def test_client_address_ipv6_per_network():
    first = client_address(_request("2001:db8:1:2::1"), 1)
    second = client_address(_request("2001:db8:1:2:ffff::9"), 1)
    assert first == "2001:db8:1:2::/64"
    assert second == first


# --- OIDC: tokens signed by a key of this test, certificates served on 127.0.0.1 ---

@pytest.fixture(scope="module")
def oidc_keys():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simtel test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    certs = json.dumps({"k1": cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(certs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield private_pem, f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()
    server.server_close()


AUDIENCE = "https://api.example.test"


def _token(private_pem: bytes, **claims) -> str:
    from google.auth import crypt, jwt

    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "sub": "1",
               "email": "scheduler@proj.iam.gserviceaccount.com", "email_verified": True,
               "iat": now, "exp": now + 300, **claims}
    return jwt.encode(crypt.RSASigner.from_string(private_pem, "k1"), payload).decode()


def test_oidc_valid_token_returns_email(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    email = verify_oidc(_token(pem), AUDIENCE, frozenset({"scheduler@proj.iam.gserviceaccount.com"}), url)
    assert email == "scheduler@proj.iam.gserviceaccount.com"


def test_oidc_wrong_audience_401(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    with pytest.raises(ApiError) as caught:
        verify_oidc(_token(pem, aud="https://other.test"), AUDIENCE,
                    frozenset({"scheduler@proj.iam.gserviceaccount.com"}), url)
    assert caught.value.status == 401


def test_oidc_email_not_allowed_403(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    with pytest.raises(ApiError) as caught:
        verify_oidc(_token(pem), AUDIENCE, frozenset({"someone@else.test"}), url)
    assert caught.value.status == 403


def test_oidc_unverified_email_401(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    with pytest.raises(ApiError) as caught:
        verify_oidc(_token(pem, email_verified=False), AUDIENCE,
                    frozenset({"scheduler@proj.iam.gserviceaccount.com"}), url)
    assert caught.value.status == 401


def test_oidc_foreign_issuer_401(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    with pytest.raises(ApiError) as caught:
        verify_oidc(_token(pem, iss="https://issuer.example"), AUDIENCE,
                    frozenset({"scheduler@proj.iam.gserviceaccount.com"}), url)
    assert caught.value.status == 401


def test_oidc_expired_401(oidc_keys):
    from common.api.auth import verify_oidc

    pem, url = oidc_keys
    past = int(time.time()) - 3600
    with pytest.raises(ApiError) as caught:
        verify_oidc(_token(pem, iat=past - 300, exp=past), AUDIENCE,
                    frozenset({"scheduler@proj.iam.gserviceaccount.com"}), url)
    assert caught.value.status == 401


def test_oidc_audience_from_setting(monkeypatch):
    from common.api.auth import oidc_settings

    monkeypatch.setenv("API_OIDC_EMAILS", "Scheduler@Proj.iam.gserviceaccount.com, other@x.test")
    monkeypatch.setenv("API_OIDC_AUDIENCE", "https://api.example.test")
    request = Request(EnvironBuilder(path="/", base_url="https://h.test").get_environ())
    audience, emails = oidc_settings(request)
    assert audience == "https://api.example.test"
    assert emails == {"scheduler@proj.iam.gserviceaccount.com", "other@x.test"}


def test_oidc_audience_from_host_on_cloud_run(monkeypatch):
    from common.api.auth import oidc_settings

    monkeypatch.setenv("API_OIDC_EMAILS", "scheduler@proj.iam.gserviceaccount.com")
    monkeypatch.delenv("API_OIDC_AUDIENCE", raising=False)
    monkeypatch.setenv("K_SERVICE", "simtel-api")
    request = Request(EnvironBuilder(path="/v1/features:rebuild",
                                     base_url="https://api-x.a.run.app").get_environ())
    assert oidc_settings(request)[0] == "https://api-x.a.run.app"


def test_oidc_off_without_emails(monkeypatch):
    from common.api.auth import oidc_settings

    monkeypatch.delenv("API_OIDC_EMAILS", raising=False)
    monkeypatch.setenv("API_OIDC_AUDIENCE", "https://api.example.test")
    assert oidc_settings(Request(EnvironBuilder(path="/").get_environ()))[0] == ""


def test_signed_start_url_v4(oidc_keys, monkeypatch):
    # The local stack fixture points storage clients at the emulator; signing targets the cloud.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    from google.auth import crypt
    from google.oauth2 import service_account

    from common.api.signing import signed_start_url

    pem, _ = oidc_keys
    credentials = service_account.Credentials(crypt.RSASigner.from_string(pem, "k1"),
                                              "api@proj.iam.gserviceaccount.com",
                                              "https://oauth2.googleapis.com/token")
    target = signed_start_url("raw-bucket", "incoming/u-1/lap one.csv", "text/csv", 900, credentials)
    parsed = urllib.parse.urlparse(target.url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "storage.googleapis.com"
    assert parsed.path == "/raw-bucket/incoming/u-1/lap%20one.csv"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["900"]
    assert query["X-Goog-SignedHeaders"] == ["content-type;host;x-goog-resumable"]
    assert len(query["X-Goog-Signature"][0]) == 512
    assert target.method == "POST"
    assert target.headers == {"x-goog-resumable": "start", "content-type": "text/csv"}


def test_docs_assets_in_function_package():
    from common.packaging import package_files

    names = {name for name, _ in package_files("api")}
    for asset in ("docs.html", "docs.js", "docs.css"):
        assert f"common/api/static/{asset}" in names


def test_docs_assets_load_nothing_remote():
    from common.api.openapi import STATIC

    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "https://" not in text, path.name
        assert "http://" not in text, path.name
