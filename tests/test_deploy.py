"""Static checks of deploy/: no Docker engine runs here, so the files must parse and point at real paths."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(DOCKERFILE.read_text()):
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(instruction)
    return stages


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), args
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_dockerfile_is_multi_stage_and_slim() -> None:
    stages = _stages()
    assert len(stages) >= 2
    assert all("slim" in stage[0][1] or "alpine" in stage[0][1] or "distroless" in stage[0][1] for stage in stages)
    names = [stage[0][1].split()[-1] for stage in stages[:-1]]
    copies_from = [a for i, a in stages[-1] if i == "COPY" and a.startswith("--from=")]
    assert any(a.split()[0].removeprefix("--from=") in names for a in copies_from), "final stage copies a build"


def test_final_stage_runs_as_non_root() -> None:
    users = [a for i, a in _stages()[-1] if i == "USER"]
    assert users, "the final stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_cmd_is_exec_form_and_runs_the_service() -> None:
    final = _stages()[-1]
    cmd = [a for i, a in final if i == "CMD"]
    assert len(cmd) == 1
    argv = _exec_form(cmd[0])
    assert argv[argv.index("-m") + 1 : argv.index("-m") + 3] == ["service", "serve"]
    assert "0.0.0.0" in argv
    for instruction, args in final:
        if instruction == "ENTRYPOINT":
            _exec_form(args)
    assert all(a != "SIGKILL" for i, a in final if i == "STOPSIGNAL")


def test_healthcheck() -> None:
    checks = [a for i, a in _stages()[-1] if i == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "CMD" in checks[0]
    assert "/healthz" in checks[0] or "/readyz" in checks[0]


def test_every_copy_source_exists() -> None:
    for stage in _stages():
        for instruction, args in stage:
            if instruction not in ("COPY", "ADD") or "--from=" in args:
                continue
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            assert len(words) >= 2, args
            for source in words[:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} missing (context is the repository root)"


def test_copied_project_installs_the_service() -> None:
    sources = {w for s in _stages() for i, a in s if i == "COPY" for w in shlex.split(a)[:-1]}
    assert {"pyproject.toml", "service"} <= {s.rstrip("/").removeprefix("./") for s in sources}


def test_compose_build_context_and_dockerfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    builds = [s["build"] for s in services.values() if "build" in s]
    assert builds
    for build in builds:
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_redis_is_durable_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    text = " ".join(argv)
    assert re.search(r"--appendonly\s+yes", text)
    assert re.search(r"--maxmemory-policy\s+noeviction", text)
    test = redis["healthcheck"]["test"]
    assert "ping" in " ".join(test if isinstance(test, list) else [test])
    assert any(str(v).endswith(":/data") for v in redis["volumes"])


def test_compose_service_has_a_data_volume_and_waits_for_redis(compose: dict[str, Any]) -> None:
    app = next(s for s in compose["services"].values() if "build" in s)
    env = app["environment"]
    assert str(env["REDIS_URL"]).startswith("redis://redis:")
    data_dir = env.get("DATA_DIR", "/data")
    mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in app["volumes"]}
    assert data_dir in mounts.values()
    named = set(compose["volumes"])
    assert {m for m, target in mounts.items() if target == data_dir} <= named
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ADMIN_TOKEN" in env
