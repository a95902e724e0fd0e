"""The portal: section and the requester mail settings: mistakes reported with their line,
keys resolved as secrets and refused when short."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from gateway.app import build
from gateway.config.model import LoadedConfig, load_config

BASE = """\
storage:
  url: sqlite://{tmp}/g.sqlite3
rules:
  dir: {tmp}/rules
  catalogue: null
sinks:
  - {{name: mail, kind: email, host: 127.0.0.1, from_address: d@example.org, to: [a@x.org]}}
  - {{name: hook, kind: webhook, url: "http://127.0.0.1:9/x"}}
"""
KEY = "k" * 40


def _load(tmp_path: Path, text: str) -> LoadedConfig:
    (tmp_path / "rules").mkdir(exist_ok=True)
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE.format(tmp=tmp_path) + text)
    return load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("portal: {enabled: true, keys: [x]}\n", "needs base_url and at least one key"),
        ("portal: {enabled: true, base_url: ftp://h, keys: [x]}\n", "must start with http"),
        (
            "portal: {enabled: true, base_url: 'http://h', keys: [{env: PORTAL_KEY_UNSET_X}]}\n",
            "gateway.yaml:9: portal.keys.0: environment variable PORTAL_KEY_UNSET_X",
        ),
        (
            f"portal: {{enabled: true, base_url: 'http://h', keys: [{KEY}], "
            "form: {acknowledge: {sink: hook}}}\n",
            "portal.form.acknowledge.sink: 'hook' is not an email sink",
        ),
        (
            "mailboxes:\n  - name: desk\n    address: d@example.org\n    notify: {sink: hook}\n",
            "mailboxes.desk.notify.sink: 'hook' is not an email sink",
        ),
        (
            "mailboxes:\n  - name: desk\n    address: d@example.org\n"
            "    notify: {sink: mail, quiet_hours: {start: '22:00', end: '7'}}\n",
            "should match pattern",
        ),
        (
            "mailboxes:\n  - name: desk\n    address: d@example.org\n"
            "    notify:\n      sink: mail\n"
            "      quiet_hours: {start: '22:00', end: '07:00', timezone: X/Y}\n",
            "unknown time zone 'X/Y'",
        ),
    ],
)
def test_mistakes_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        _load(tmp_path, text)


def test_a_short_key_is_refused_and_a_long_one_signs(tmp_path: Path) -> None:
    short = _load(tmp_path, "portal: {enabled: true, base_url: 'http://h', keys: [short]}\n")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        build(short)
    good = _load(tmp_path, f"portal: {{enabled: true, base_url: 'http://h/', keys: [{KEY}]}}\n")
    services = build(good)
    assert services.portal is not None
    assert services.portal.signer.url({"id": 3, "key": "INC-000003"}).startswith(
        "http://h/portal/status/"
    )
