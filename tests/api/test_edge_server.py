"""The HTTP server under the app, live (`python -m service serve`): what aiohttp's parser refuses is
answered in JSON and logged without the client's IP or user agent; slow and surplus connections are dropped."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.live import TOKEN, LiveServer, exchange

SOURCE_IP = "127.0.0.77"  # the client's address: loopback, but one no other line of the log has
PROBE_UA = "Mozilla/5.0 (X11; Linux x86_64) LogProbe/4.5.6 Chrome/126.0"
XFF_PROBE = "198.51.100.99"

UA = PROBE_UA.encode()
MALFORMED = {
    "bad header byte in the UA": b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + UA + b"\x01\r\n\r\n",
    "non-UTF-8 UA and a bad method": b"G\xc3T /x HTTP/1.1\r\nUser-Agent: " + PROBE_UA.encode() + b"\xff\r\n\r\n",
    "request line past 8 KiB": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nUser-Agent: " + PROBE_UA.encode() + b"\r\n\r\n",
    "bad chunk size": (b"POST /v1/articles/a1/views HTTP/1.1\r\nHost: x\r\nUser-Agent: " + PROBE_UA.encode()
                       + b"\r\nX-Forwarded-For: " + XFF_PROBE.encode()
                       + b"\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nab\r\n"),
    "header without a colon": b"GET / HTTP/1.1\r\nUser-Agent: " + PROBE_UA.encode() + b"\r\nnocolon\r\n\r\n",
    "TLS on the HTTP port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + PROBE_UA.encode(),
    "too many headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(200)) + b"\r\n",
}
ROUTER_ODDITIES = {  # targets no route pattern can match: answered by the catch-all, not by aiohttp's router
    "OPTIONS *": b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "CONNECT": b"CONNECT t4k3.news:443 HTTP/1.1\r\nHost: t4k3.news:443\r\nConnection: close\r\n\r\n",
    "newline in a path": b"GET /ops/static/%0A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "NUL in a file path": b"GET /ops/static/index.html%00.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live"), redis_url, {
        "HEADER_TIMEOUT_S": "5", "MAX_CONNECTIONS": "40", "TRUSTED_PROXIES": "127.0.0.0/8",
    })
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_what_the_parser_refuses_is_a_json_400(live: LiveServer, raw: bytes) -> None:
    answer = exchange(live.port, raw, source=SOURCE_IP)
    assert answer.status == 400, answer.raw[:300]
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "bad_request"
    assert PROBE_UA not in answer.body.decode()


@pytest.mark.parametrize("raw", ROUTER_ODDITIES.values(), ids=ROUTER_ODDITIES.keys())
def test_targets_no_route_matches_get_a_json_error(live: LiveServer, raw: bytes) -> None:
    answer = exchange(live.port, raw)
    assert answer.status in (404, 405), answer.raw[:300]
    assert answer.headers["content-type"].startswith("application/json")
    assert set(answer.json()["error"]) == {"code", "message", "details"}


def test_the_log_of_malformed_requests_has_no_ip_and_no_user_agent(live: LiveServer) -> None:
    before = live.log.stat().st_size
    for raw in MALFORMED.values():
        assert exchange(live.port, raw, source=SOURCE_IP).status == 400
    marker = "log-marker-0001"
    assert live.get("/nothing", X_Request_ID=marker).status == 404  # its access line comes after the above
    deadline = time.monotonic() + 20
    while marker not in live.output()[before:] and time.monotonic() < deadline:
        time.sleep(0.05)  # polling until the log has caught up
    logged = live.log.read_bytes()[before:]
    assert marker.encode() in logged
    lines = [json.loads(line) for line in logged.splitlines()]
    refused = [line for line in lines if "malformed request" in line["message"]]
    assert len(refused) == len(MALFORMED)
    assert all(line["level"] == "info" and "exception" not in line for line in refused)
    for secret in (SOURCE_IP, PROBE_UA, "LogProbe", XFF_PROBE):
        assert secret.encode() not in logged, f"{secret} is in the log"


def _slow(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(first_bytes)
        conns.append(s)
    return conns


def _closed_by_server(conn: socket.socket, deadline: float) -> bytes | None:
    """What the server sent before closing `conn`; None if it is still open at `deadline`."""
    got = b""
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
    return None


def test_connections_past_the_cap_get_a_503_and_are_closed(live: LiveServer) -> None:
    held = _slow(live.port, 40, b"")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the server has accepted all 40
            answer = exchange(live.port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            if answer.status == 503:
                break
            time.sleep(0.05)  # polling until the 40 are counted
        assert answer.status == 503, answer.raw[:200]
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["code"] == "unavailable"
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + 20
    while live.get("/healthz").status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling until the closed connections are released
    assert live.get("/healthz").status == 200


def test_slow_headers_are_dropped_and_the_server_serves_again(tmp_path: Path, redis_url: str) -> None:
    """More connections that never finish their headers than the 512-file limit: each is dropped after
    HEADER_TIMEOUT_S, the ones past the cap at once, and a normal request is answered afterwards."""
    server = LiveServer(tmp_path, redis_url, {"HEADER_TIMEOUT_S": "2"}, nofile=512)
    conns: list[socket.socket] = []
    try:
        server.wait_ready()
        started = time.monotonic()
        conns = _slow(server.port, 600, b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")
        deadline = started + 2 + 25
        outcomes = [_closed_by_server(conn, deadline) for conn in conns]
        assert all(o is not None for o in outcomes), f"{outcomes.count(None)} slow connections still open"
        refused = [o for o in outcomes if o and o.startswith(b"HTTP/1.1 503")]
        assert refused, "past the cap (512 files leave room for 64) connections are refused at once"
        deadline = time.monotonic() + 20
        while server.get("/healthz").status != 200 and time.monotonic() < deadline:
            time.sleep(0.05)  # polling until the server has released them
        assert server.get("/healthz").status == 200
    finally:
        for conn in conns:
            conn.close()
        server.stop()
    lines = server.output().splitlines()
    assert sum("connection refused" in line for line in lines) <= 10, "repeated lines are rate-limited"
    assert not [line for line in lines if "accept" in line.lower()], "the process never ran out of files"


def _metric(text: str, route: str, status: int) -> int:
    pattern = rf'engagement_http_requests_total{{[^}}]*route="{re.escape(route)}"[^}}]*status="{status}"[^}}]*}} (\S+)'
    return sum(int(float(m)) for m in re.findall(pattern, text))


def test_a_client_gone_mid_body_is_an_abort_not_a_redis_outage(live: LiveServer) -> None:
    before = live.log.stat().st_size
    routes = {"/v1/articles/{article_id}/views": b"POST /v1/articles/x1/views",
              "/v1/articles/{article_id}": b"PUT /v1/articles/x1"}
    for target in routes.values():
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", live.port), timeout=10)
            s.sendall(target + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
                      + TOKEN.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"event_id\":")
            s.close()
    deadline = time.monotonic() + 20
    text = ""
    while time.monotonic() < deadline:
        text = live.get("/metrics", Authorization=f"Bearer {TOKEN}").body.decode()
        if all(_metric(text, route, 499) >= 3 for route in routes):
            break
        time.sleep(0.05)  # polling until the aborted requests are accounted for
    for route in routes:
        assert (_metric(text, route, 499), _metric(text, route, 503)) == (3, 0), route
    lines = [json.loads(line) for line in live.log.read_bytes()[before:].splitlines()]
    assert not [line for line in lines if "redis unavailable" in line["message"]]
    service = [line for line in lines if line["logger"].startswith("service") and line["logger"] != "service.access"]
    assert all(line["level"] in ("debug", "info") and "exception" not in line for line in service)
