"""The layering design.md and docs/architecture.md promise, checked on the source itself.

* The layers: core <- parsers, rules <- storage <- gateway, and core <- sinks <-
  gateway. A package imports only the packages below it (and itself); every
  import counts, also one inside a function or under TYPE_CHECKING.
* The functional core (core/, parsers/, rules/) imports no aiohttp, aiosmtpd,
  tortoise or database driver, and reads no clock: time is passed in.
* storage/ is the only package that imports tortoise.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = ("core", "parsers", "rules")
FORBIDDEN_IN_CORE = (
    "aiohttp",
    "aiosmtpd",
    "tortoise",
    "asyncpg",
    "aiosqlite",
    "imapclient",
    "storage",
    "sinks",
    "gateway",
    "urllib.request",
    "http.client",
    "smtplib",
)
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "time_ns"),
}


PACKAGES = ("core", "parsers", "rules", "storage", "sinks", "gateway")
# what each package may import besides itself
BELOW: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "parsers": frozenset({"core"}),
    "rules": frozenset({"core"}),
    "storage": frozenset({"core", "parsers", "rules"}),
    "sinks": frozenset({"core"}),
    "gateway": frozenset({"core", "parsers", "rules", "storage", "sinks"}),
}


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", [p for pkg in CORE for p in _modules(pkg)], ids=str)
def test_core_module_imports_no_io_library(path: Path) -> None:
    bad = sorted(
        name
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN_IN_CORE)
    )
    assert bad == [], f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize("path", [p for pkg in CORE for p in _modules(pkg)], ids=str)
def test_core_module_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        (node.func.value.id, node.func.attr, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and (node.func.value.id, node.func.attr) in CLOCK_CALLS
    ]
    assert calls == [], f"{path.relative_to(REPO)} reads the clock at {calls}"


def test_importing_the_core_loads_no_io_library() -> None:
    """Transitively, too: what the core pulls in at import time."""
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for pkg in CORE
        for p in _modules(pkg)
    ]
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {list(FORBIDDEN_IN_CORE)!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "path",
    [p for pkg in ("gateway", "parsers", "rules", "sinks") for p in _modules(pkg)],
    ids=str,
)
def test_only_storage_imports_tortoise(path: Path) -> None:
    assert not any(name.split(".")[0] == "tortoise" for name in _imports(path)), (
        f"{path.relative_to(REPO)} imports tortoise; go through storage/"
    )


def _backward_arrows(package: str, paths: list[Path]) -> list[str]:
    allowed = BELOW[package] | {package}
    return [
        f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path.name}: imports {name}"
        for path in paths
        for name in sorted(_imports(path) | _relative_imports(path, package))
        if name.split(".")[0] in PACKAGES and name.split(".")[0] not in allowed
    ]


def _relative_imports(path: Path, package: str) -> set[str]:
    """A relative import stays inside its package: counted as the package itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {package for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    paths = _modules(package)
    assert paths, f"no modules under {package}/"
    assert _backward_arrows(package, paths) == []


def test_a_backward_arrow_is_found_wherever_the_import_is(tmp_path: Path) -> None:
    """The layer test can fail: an arrow in a function body or under TYPE_CHECKING counts."""
    module = tmp_path / "records.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import core.errors\n"
        "if TYPE_CHECKING:\n"
        "    from storage.database import Database\n"
        "def later() -> None:\n"
        "    import gateway.app\n",
        encoding="utf-8",
    )
    assert _backward_arrows("core", [module]) == [
        "records.py: imports gateway.app",
        "records.py: imports storage.database",
    ]
    assert _backward_arrows("gateway", [module]) == []


def test_no_product_module_is_over_400_lines() -> None:
    long = [
        f"{path.relative_to(REPO)}: {lines} lines"
        for package in PACKAGES
        for path in _modules(package)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert long == []


def _storage_reaches(path: Path) -> list[str]:
    """Imports of storage that go past its public face: a submodule, or a name the face
    does not list in ``storage.__all__``."""
    import storage

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("storage.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("storage."):
                found.append(node.module)
            elif node.module == "storage":
                found += [
                    f"storage.{alias.name}"
                    for alias in node.names
                    if alias.name not in storage.__all__
                ]
    return found


@pytest.mark.parametrize(
    "path", [p for pkg in ("gateway", "sinks") for p in _modules(pkg)], ids=str
)
def test_the_gateway_reaches_storage_through_its_public_face(path: Path) -> None:
    assert _storage_reaches(path) == [], (
        f"{path.relative_to(REPO)} reaches into storage; import from storage (storage/__init__.py)"
    )


def test_a_reach_past_the_storage_face_is_found(tmp_path: Path) -> None:
    module = tmp_path / "app.py"
    module.write_text(
        "from storage import Database, sql\n"
        "import storage.models\n"
        "def later() -> None:\n"
        "    from storage.incidents import IncidentStore\n",
        encoding="utf-8",
    )
    assert sorted(_storage_reaches(module)) == [
        "storage.incidents",
        "storage.models",
        "storage.sql",
    ]


def test_every_name_of_the_storage_face_is_there() -> None:
    import storage

    assert [name for name in storage.__all__ if not hasattr(storage, name)] == []
    assert len(set(storage.__all__)) == len(storage.__all__)
