"""What configuration is in force, as sha256 hashes an auditor can compare with files.

The config file's bytes, and the rules' (catalogue, then every rule file by name,
as the loader reads them): a reload and the evidence export record these, so the
audit log says which rules decided between two reloads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.config.model import LoadedConfig
from rules.loader import rule_files


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # gone since it was loaded: the hash then says so


def config_files(loaded: LoadedConfig) -> list[Path]:
    """The config file, the catalogue and the rule files, in the order they are hashed."""
    rules = loaded.config.rules
    found = [loaded.path]
    if rules.catalogue is not None:
        found.append(rules.catalogue)
    if rules.dir.is_dir():
        found.extend(rule_files(rules.dir))
    return found


def config_hashes(loaded: LoadedConfig) -> dict[str, str]:
    """``config_sha256`` of the config file, ``rules_sha256`` of catalogue and rules."""
    rules = hashlib.sha256()
    for path in config_files(loaded)[1:]:
        rules.update(path.name.encode() + b"\x00" + _file_bytes(path))
    return {
        "config_sha256": hashlib.sha256(_file_bytes(loaded.path)).hexdigest(),
        "rules_sha256": rules.hexdigest(),
    }
