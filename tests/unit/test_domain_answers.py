"""The domain says what happened; api/ decides the HTTP status and renders the bytes."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from service.api.errors import STATUS_OF, status_of
from service.domain import errors

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
KINDS = [c for _n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.DomainError)]


@pytest.mark.parametrize("kind", KINDS, ids=lambda c: c.__name__)
def test_domain_errors_carry_no_http_status_and_api_maps_each(kind: type[errors.DomainError]) -> None:
    assert not hasattr(kind, "status")
    if kind is not errors.DomainError:
        assert any(c in STATUS_OF for c in kind.__mro__), kind
    assert status_of(errors.OutcomeUnknown()) == 503 and status_of(errors.RateLimited("x", 1)) == 429


def test_no_module_of_the_domain_renders_json_or_http() -> None:
    for path in DOMAIN.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"json", "aiohttp"}, path.name
