"""``intake-gateway init DIR``: a starter config, rules and catalogue for a new install.

The files are the annotated examples shipped in the package (``gateway/starter``,
the same files as ``config/`` in a clone), with the paths that the examples
give relative to a clone made absolute: rules and catalogue under DIR, the
SQLite database under the data directory. The result passes ``check-config``
from any working directory, which is what a service manager gives it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from ruamel.yaml import YAML

CONFIG_NAME = "gateway.yaml"
CATALOGUE_NAME = "catalogue.yaml"
RULES_NAME = "rules"
DATABASE_NAME = "intake-gateway.sqlite3"


class ScaffoldError(Exception):
    """The starter cannot be written (files in the way, a directory not writable)."""


@dataclass(frozen=True, slots=True)
class Starter:
    config: Path
    written: tuple[Path, ...]


def _examples() -> Traversable:
    return files("gateway") / "starter"


def _walk(node: Traversable, relative: Path) -> list[tuple[Path, bytes]]:
    found: list[tuple[Path, bytes]] = []
    for child in sorted(node.iterdir(), key=lambda item: item.name):
        if child.is_dir():
            found.extend(_walk(child, relative / child.name))
        elif child.name.endswith(".yaml") or relative.name == "payloads":
            # payloads: the raw mail and JSON the rule scenarios send
            found.append((relative / child.name, child.read_bytes()))
    return found


def _config_text(example: bytes, directory: Path, data_dir: Path) -> bytes:
    """The example config with its clone-relative paths pointed at DIR and the data dir;
    comments and layout kept (round-trip YAML)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the examples' own layout
    document = yaml.load(example)
    document["storage"]["url"] = f"sqlite://{data_dir / DATABASE_NAME}"
    document["rules"]["dir"] = str(directory / RULES_NAME)
    document["rules"]["catalogue"] = str(directory / CATALOGUE_NAME)
    out = io.BytesIO()
    yaml.dump(document, out)
    return out.getvalue()


def write_starter(directory: Path, data_dir: Path | None = None, *, force: bool = False) -> Starter:
    """Write the starter files into ``directory`` (created if missing); the database
    goes under ``data_dir`` (default: ``directory/data``). Existing files are kept
    unless ``force``: ScaffoldError names them."""
    directory = directory.absolute()
    data_dir = (data_dir or directory / "data").absolute()
    files_to_write = _walk(_examples(), Path())
    targets = [(directory / relative, content) for relative, content in files_to_write]
    in_the_way = [path for path, _ in targets if path.exists()]
    if in_the_way and not force:
        names = ", ".join(str(path) for path in in_the_way)
        raise ScaffoldError(f"would overwrite {names} (use --force to replace them)")
    written: list[Path] = []
    try:
        for path, content in targets:
            if path.name == CONFIG_NAME and path.parent == directory:
                content = _config_text(content, directory, data_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScaffoldError(str(exc)) from None
    return Starter(config=directory / CONFIG_NAME, written=tuple(written))
