"""The import-linter contracts of pyproject.toml hold (api -> domain -> storage -> leaf), and they have teeth."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
TIMEOUT_S = 120


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `service` package under `root`, with the contracts of `root`/pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )


def test_the_service_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The service package and pyproject.toml, copied: a place to plant an import that breaks a layer."""
    shutil.copytree(ROOT / "service", tmp_path / "service", ignore=shutil.ignore_patterns("__pycache__", "web"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("storage/planted.py", "from ..domain import errors", "storage is not allowed to import service.domain"),
        ("records.py", "from .storage import keys", "service.records is not allowed to import service.storage"),
        ("api/planted.py", "from ..storage import keys", "service.api.planted -> service.storage.keys"),
        ("domain/planted.py", "from ..appkeys import CATALOG", "domain is not allowed to import service.appkeys"),
    ],
)
def test_a_planted_import_against_the_direction_breaks_a_contract(
    copy: Path, module: str, line: str, broken: str
) -> None:
    planted = copy / "service" / module  # a new module, or the leaf itself reaching up
    planted.write_text((planted.read_text() if planted.exists() else "") + f"\n{line}\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout, result.stdout
