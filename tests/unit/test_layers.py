"""The rules between the packages (docs/architecture.md): the gateway never reaches the
worker side, and the model and the store meet only in the worker."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import embedapp

PACKAGE = Path(embedapp.__file__).parent
# Who may not import whom: a package, and the modules (prefixes) it must never import.
FORBIDDEN = {
    "gateway": (
        "embedapp.model",
        "embedapp.store",
        "embedapp.worker",
        "embedapp.cli",
        "embedapp.bench",
        "torch",
        "sentence_transformers",
    ),
    "model": (
        "embedapp.store",
        "embedapp.worker",
        "embedapp.gateway",
        "embedapp.cli",
        "embedapp.bench",
    ),
    "store": (
        "embedapp.model",
        "embedapp.worker",
        "embedapp.gateway",
        "embedapp.cli",
        "embedapp.bench",
        "torch",
    ),
    "worker": ("embedapp.gateway", "embedapp.cli", "embedapp.bench"),
    # The commands use the benchmarks, never the other way round.
    "bench": ("embedapp.cli",),
}


def imported(source: str) -> set[str]:
    """Every module a file imports, as a dotted name (`from a import b` counts as `a.b` too,
    since b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def breaches(package: str, root: Path = PACKAGE) -> list[str]:
    """`file: module` for each import that breaks the package's rule."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for name in sorted(imported(path.read_text())):
            if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN[package]):
                found.append(f"{path.relative_to(root)}: {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_package_keeps_to_its_side(package: str) -> None:
    assert breaches(package) == []


def test_the_rule_sees_an_import_of_the_model(tmp_path: Path) -> None:
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "routes.py").write_text(
        "from embedapp import model\nfrom embedapp.queues import SEARCH\n"
    )
    assert breaches("gateway", tmp_path) == ["gateway/routes.py: embedapp.model"]


def test_the_gateway_never_imports_torch() -> None:
    # A fresh interpreter: this test process may have imported torch for other tests.
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from embedapp.gateway.app import create_app\n"
        "with TestClient(create_app()) as client:\n"
        "    client.get('/health')\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
