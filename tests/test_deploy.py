"""Static checks of deploy/: no Docker engine runs here, so the files must parse and point at real paths."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
NGINX = ROOT / "deploy" / "nginx.conf"
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# Settings that issue 14's role and PostgreSQL work adds (ROLE, DATABASE_URL); the rest must exist today.
ADDED_SETTINGS = {"role", "database_url"}


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


# What an operator sets; every other ${VAR:-default} takes its default, as docker compose does.
OPERATOR_ENV = {"ADMIN_TOKEN": "admin-token", "POSTGRES_PASSWORD": "pg-password"}


def _interpolate(text: str, env: dict[str, str]) -> str:
    """docker compose's ${VAR}, ${VAR:-default} and ${VAR:?error}; a required variable left unset fails."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        assert op != ":?", f"{name} is required: {arg}"
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", value, text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_interpolate(COMPOSE.read_text(), OPERATOR_ENV))
    return data


def test_compose_refuses_to_start_without_the_secrets() -> None:
    for name in OPERATOR_ENV:
        with pytest.raises(AssertionError, match=f"{name} is required"):
            _interpolate(COMPOSE.read_text(), {k: v for k, v in OPERATOR_ENV.items() if k != name})


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


def _argv(command: str | list[str]) -> list[str]:
    return command if isinstance(command, list) else shlex.split(command)


def _role(argv: list[str]) -> str:
    """The role a `python -m service serve ... --role R` command line runs."""
    assert argv[:4] == ["python", "-m", "service", "serve"], argv
    return argv[argv.index("--role") + 1]


def _port(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def _known_settings(names: set[str]) -> set[str]:
    """The names that are not a Settings field (environment variables are its field names, upper-cased)."""
    return {n for n in names if n.lower() not in set(Settings.model_fields) | ADDED_SETTINGS}


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("image") == compose_image(compose)}


def compose_image(compose: dict[str, Any]) -> str:
    built = {s["image"] for s in compose["services"].values() if "build" in s}
    assert len(built) == 1, f"every service process runs the one image built here, not {built}"
    return built.pop()


def test_compose_runs_api_replicas_and_one_worker_of_one_image(compose: dict[str, Any]) -> None:
    apps = _app_services(compose)
    roles = {name: _role(_argv(s["command"])) for name, s in apps.items()}
    assert sorted(roles.values()) == ["api", "worker"], roles
    for name, service in apps.items():
        assert service["environment"]["ROLE"] == roles[name], f"{name}: --role and ROLE disagree"
        assert [str(p) for p in service["expose"]] == [str(_port(_argv(service["command"])))]
        assert "0.0.0.0" in _argv(service["command"])
    replicas = {roles[name]: s["deploy"]["replicas"] for name, s in apps.items()}
    assert replicas["api"] >= 2 and replicas["worker"] == 1


def test_compose_processes_share_redis_and_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    for name, service in _app_services(compose).items():
        env = service["environment"]
        assert not _known_settings(set(env)), f"{name}: not a setting: {_known_settings(set(env))}"
        redis = urlsplit(env["REDIS_URL"])
        assert redis.scheme == "redis" and redis.hostname in services
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme == "postgresql" and database.hostname == "postgres" and database.port == 5432
        assert database.username == postgres["POSTGRES_USER"]
        assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
        assert database.password == postgres["POSTGRES_PASSWORD"] == OPERATOR_ENV["POSTGRES_PASSWORD"]
        assert "ADMIN_TOKEN" in env
        depends = service["depends_on"]
        assert {d: depends[d]["condition"] for d in ("redis", "postgres")} == dict.fromkeys(
            ("redis", "postgres"), "service_healthy"
        )
        mounts = [str(v).split(":") for v in service.get("volumes", [])]
        assert not any(m[0] in compose.get("volumes", {}) for m in mounts), "no shared data dir: PostgreSQL is it"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def test_compose_only_the_proxy_publishes_a_port(compose: dict[str, Any]) -> None:
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"proxy"}, "a fixed host port on a scaled service would clash"
    proxy = compose["services"]["proxy"]
    (port,) = proxy["ports"]
    container_port = int(str(port).rsplit(":", 1)[1])
    config = NGINX.read_text()
    assert re.search(rf"^\s*listen {container_port};", config, re.M)
    assert any(str(v).split(":")[0] == "./nginx.conf" for v in proxy["volumes"])
    assert (COMPOSE.parent / "nginx.conf").exists()


def test_the_proxy_balances_over_every_api_replica(compose: dict[str, Any]) -> None:
    config = NGINX.read_text()
    api = next(n for n, s in _app_services(compose).items() if _role(_argv(s["command"])) == "api")
    api_port = _port(_argv(compose["services"][api]["command"]))
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", config, re.S)
    assert upstream is not None
    assert re.search(rf"server {api}:{api_port} resolve", upstream.group(2)), "re-resolved: scaling adds replicas"
    assert f"proxy_pass http://{upstream.group(1)};" in config
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in config
    assert "resolver 127.0.0.11" in config


def test_compose_trusts_only_its_own_network_as_proxies(compose: dict[str, Any]) -> None:
    (subnet,) = [c["subnet"] for c in compose["networks"]["backend"]["ipam"]["config"]]
    for service in _app_services(compose).values():
        trusted = [ipaddress.ip_network(n) for n in service["environment"]["TRUSTED_PROXIES"].split(",")]
        assert trusted == [ipaddress.ip_network(subnet)]
        assert service["networks"] == ["backend"]
    assert compose["services"]["proxy"]["networks"] == ["backend"]


# ---- Kubernetes ------------------------------------------------------------------------------------


def _manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Kubernetes object of deploy/k8s by (kind, name)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in _manifests():
        for doc in yaml.safe_load_all(path.read_text()):
            out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])  # the oldest we support, the newest shipped
def test_k8s_manifests_match_the_kubernetes_schemas(version: str, resources: dict[tuple[str, str], Any]) -> None:
    """kubernetes-validate ships the schemas in its wheel: this runs offline, --strict rejects unknown fields."""
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "-k", version, *map(str, _manifests())],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(resources), result.stdout


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in _manifests()]


def _deployment(resources: dict[tuple[str, str], Any], component: str) -> dict[str, Any]:
    found = [r for (kind, _), r in resources.items()
             if kind == "Deployment" and r["spec"]["template"]["metadata"]["labels"].get(
                 "app.kubernetes.io/component") == component]
    assert len(found) == 1, component
    return found[0]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _image_user() -> int:
    runtime = _stages()[-1]
    (useradd,) = [a for i, a in runtime if i == "RUN" and "useradd" in a]
    uid = re.search(r"--uid (\d+)", useradd)
    assert uid is not None, useradd
    return int(uid.group(1))


@pytest.mark.parametrize("component", ["api", "worker"])
def test_k8s_deployments_run_their_role_as_non_root_with_probes_and_resources(
    resources: dict[tuple[str, str], Any], component: str
) -> None:
    deployment = _deployment(resources, component)
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    argv = container["command"]
    assert _role(argv) == component
    assert {e["name"]: e["value"] for e in container["env"]}["ROLE"] == component
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": _port(argv)}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _image_user() != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/data" in mounted, "DATA_DIR is writable under a read-only root"
    assert deployment["spec"]["selector"]["matchLabels"] == deployment["spec"]["template"]["metadata"]["labels"]


def test_k8s_worker_is_one_pod_and_a_rollout_starts_a_standby(resources: dict[tuple[str, str], Any]) -> None:
    worker = _deployment(resources, "worker")
    assert worker["spec"]["replicas"] == 1
    assert worker["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    hpas = [r for (kind, _), r in resources.items() if kind == "HorizontalPodAutoscaler"]
    scaled = [r["spec"]["scaleTargetRef"]["name"] for r in hpas]
    assert worker["metadata"]["name"] not in scaled, "one lease holder: more workers only wait"


def test_k8s_api_scales_and_keeps_a_replica_through_disruptions(resources: dict[tuple[str, str], Any]) -> None:
    api = _deployment(resources, "api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    (hpa,) = [r for (kind, _), r in resources.items() if kind == "HorizontalPodAutoscaler"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": api["metadata"]["name"]}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (pdb,) = [r for (kind, _), r in resources.items() if kind == "PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a drain can always proceed"


def test_k8s_services_select_pods_and_name_their_ports(resources: dict[tuple[str, str], Any]) -> None:
    deployments = [r for (kind, _), r in resources.items() if kind == "Deployment"]
    for (kind, name), service in resources.items():
        if kind != "Service" or service["spec"].get("type") == "ExternalName":
            continue
        selected = [d for d in deployments
                    if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, name
        names = {p["name"] for p in _container(selected[0])["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names, name


def test_k8s_config_points_at_the_external_redis_and_postgresql(resources: dict[tuple[str, str], Any]) -> None:
    external = {name: r for (kind, name), r in resources.items()
                if kind == "Service" and r["spec"].get("type") == "ExternalName"}
    assert set(external) == {"redis", "postgres"}
    config = resources[("ConfigMap", "engagement-config")]["data"]
    assert not _known_settings(set(config)), _known_settings(set(config))
    redis = urlsplit(config["REDIS_URL"])
    assert redis.hostname in external and redis.port in [p["port"] for p in external[redis.hostname]["spec"]["ports"]]
    assert "DATABASE_URL" not in config and "ADMIN_TOKEN" not in config, "secrets belong in the Secret"
    for component in ("api", "worker"):
        sources = _container(_deployment(resources, component))["envFrom"]
        assert {"configMapRef": {"name": "engagement-config"}} in sources
        assert {"secretRef": {"name": "engagement-secrets"}} in sources
