"""Every file a package needs at run time goes into the wheel: each non-Python file
under a product package is named by a pattern of ``[tool.setuptools.package-data]``.
A file left out works from the checkout and fails only in an installed daemon."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "parsers", "rules", "storage", "sinks", "gateway")


def _data_files(package: Path) -> set[Path]:
    return {
        path.relative_to(package)
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }


def _covered(package: Path, patterns: list[str]) -> set[Path]:
    return {path.relative_to(package) for pattern in patterns for path in package.glob(pattern)}


def test_every_data_file_of_a_package_is_in_its_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    missing = {
        name: sorted(
            str(path)
            for path in _data_files(REPO / name) - _covered(REPO / name, package_data.get(name, []))
        )
        for name in PACKAGES
    }
    assert {name: files for name, files in missing.items() if files} == {}
