"""Settings: defaults, parsing, and a clear error at start for invalid configuration."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "DATA_DIR", "PUBLIC_BASE_URL", "TRUSTED_PROXIES", "ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.redis_url is None  # the embedded default
    assert s.data_dir == Path("./data")
    assert s.public_base_url == "http://127.0.0.1:8080"
    assert s.trusted_proxies == []
    assert s.admin_token is None
    assert s.max_public_body == 16 * 1024


def test_values_are_normalised() -> None:
    s = Settings(
        public_base_url="https://eng.example.com/",
        allowed_hosts=["T4K3.News.", ".Example.com"],
        trusted_proxies=["10.0.0.0/8", "fd00::/8"],
        redis_url="",
    )
    assert s.public_base_url == "https://eng.example.com"
    assert s.allowed_hosts == ["t4k3.news", ".example.com"]
    assert s.trusted_proxies == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert s.redis_url is None
    assert s.host_allowed("T4K3.NEWS") and s.host_allowed("a.b.example.com") and s.host_allowed("example.com")
    assert not s.host_allowed("badexample.com") and not s.host_allowed("t4k3.news.evil.test")


def test_environment_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " t4k3.news , .example.com ,")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    s = Settings()
    assert s.allowed_hosts == ["t4k3.news", ".example.com"]
    assert s.trusted_proxies == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.1/32")]
    assert s.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("public_base_url", "ftp://x"),
        ("public_base_url", "eng.test"),
        ("redis_url", "http://127.0.0.1:6379"),
        ("trusted_proxies", ["not-an-ip"]),
        ("trusted_proxies", ["10.0.0.1/8"]),
        ("event_id_ttl_s", 5),
        ("log_format", "xml"),
        ("redis_socket_timeout_s", 0),
        ("role", "leader"),
        ("related_stats_refresh_s", 0),
    ],
)
def test_invalid_values_raise(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"][0] == field


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIC_BASE_URL", "TRUSTED_PROXIES"}}
    full.update(DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PUBLIC_BASE_URL", "ftp://x"),
        ("REDIS_URL", "http://localhost:6379"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"),
        ("EVENT_ID_TTL_S", "ten"),
        ("LOG_FORMAT", "yaml"),
        ("ROLE", "leader"),
    ],
)
def test_serve_with_invalid_config_exits_with_a_clear_message(tmp_path: Path, variable: str, value: str) -> None:
    result = _serve(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "invalid configuration" in result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing may start before the configuration is valid"


def test_every_related_ranking_rule_is_a_setting() -> None:
    from dataclasses import fields

    from service.domain.related import Rules
    from service.domain.related_build import RelatedConfig

    rules = RelatedConfig.from_settings(Settings(related_tag_weight=0.7, related_max_terms=9)).rules
    assert (rules.tag_weight, rules.max_terms) == (0.7, 9)
    assert all(f"related_{f.name}" in Settings.model_fields for f in fields(Rules))


def test_database_url_selects_postgres_and_is_secret() -> None:
    assert Settings(database_url="").database_url is None  # unset: the SQLite file in DATA_DIR
    s = Settings(database_url="postgresql://svc:hunter2@db.internal/eng")
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://svc:hunter2@db.internal/eng"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    with pytest.raises(ValidationError, match="DATABASE_URL must start with postgresql://"):
        Settings(database_url="mysql://db/eng")


def test_role_and_freshness_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLE", raising=False)
    assert Settings().role == "all"  # one process doing everything, as before roles
    assert Settings().related_stats_refresh_s == 30.0
    monkeypatch.setenv("ROLE", "worker")
    monkeypatch.setenv("RELATED_STATS_REFRESH_S", "5")
    s = Settings()
    assert (s.role, s.related_stats_refresh_s) == ("worker", 5.0)
    with pytest.raises(ValidationError, match="WORKER_LEASE_RENEW_S must be shorter"):
        Settings(worker_lease_ttl_s=2, worker_lease_renew_s=2)


def test_serve_refuses_an_unknown_role_flag(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--role", "leader"],
        cwd=ROOT, env={**os.environ, "DATA_DIR": str(tmp_path / "data")}, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "invalid choice: 'leader'" in result.stderr
    assert not (tmp_path / "data").exists()
