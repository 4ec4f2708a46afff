"""schemathesis against a live `serve --demo`: every operation of /openapi.json, its answers checked against it.

A private redis-server and DATA_DIR; cases are derandomised and few per operation, so the run is bounded
(about a minute or two). Checks: no 5xx but a 503 with Retry-After, every status documented, content types
and bodies as the document says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import start_redis_server
from tests.fuzz.live import TOKEN, LiveServer, exchange

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("contract")
    redis = start_redis_server(tmp / "redis")
    server = LiveServer(tmp, f"unix://{tmp / 'redis' / 'redis.sock'}", {"WRITE_RATE_PER_VISITOR_MIN": "0"},
                        args=("--demo",))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        redis.terminate()
        redis.wait(10)


@pytest.fixture(scope="module")
def contract(contract_server: LiveServer) -> Any:
    answer = exchange(contract_server.port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    document = json.loads(answer.body)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=f"http://127.0.0.1:{contract_server.port}")
    return loaded


def test_every_operation_answers_as_documented(contract: Any) -> None:
    """Each operation in turn (schemathesis's lazy pytest loader does not run under pytest 9)."""
    failures: dict[str, str] = {}
    operations = [result.ok() for result in contract.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=15)

        try:
            check()
        except Exception as exc:
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
