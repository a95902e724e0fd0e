"""The documented install, done as an admin would: build the wheel, pip-install it into
a fresh virtualenv outside the clone, ``init`` a config directory and ``check-config``
it with the README's commands, start the daemon from it as the systemd unit does and
see it ready. Nothing of the clone is on the path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import aiohttp
import pytest

import gateway
from tests.integration.alertmanager import free_port
from tests.integration.daemon import process_running, wait_ready

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "intake-gateway.service"
# the unit's Debian-style layout: package, config, data
OPT, ETC, VAR = "/opt/intake-gateway/venv", "/etc/intake-gateway", "/var/lib/intake-gateway"

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, timeout: float = 600, *, stderr: bool = False) -> str:
    """The command's standard output (and its standard error after it, if asked)."""
    # a clean environment: no PYTHONPATH or virtualenv of the clone leaks in
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr if stderr else result.stdout


def _dev_tools() -> set[str]:
    """The packages of the test extra, by name: none belongs in a production install."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    tools = extras["optional-dependencies"]["test"]
    return {_normalised(re.split(r"[\s<>=!~;\[]", tool, maxsplit=1)[0]) for tool in tools}


def _normalised(name: str) -> str:
    """A distribution's name as pip compares it (grafana_foundation_sdk is
    grafana-foundation-sdk)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _readme_commands() -> dict[str, list[str]]:
    """The README's install commands run from the venv, by subcommand (or first option)."""
    section = (REPO / "README.md").read_text().split("\n## Install\n", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    ours = [line.split() for line in lines if line.startswith(f"{OPT}/bin/intake-gateway ")]
    return {words[1]: words for words in ours}


def _in_layout(text: str, layout: dict[str, str]) -> str:
    """Paths of the unit's layout moved to where this test keeps them."""
    return re.sub("|".join(map(re.escape, layout)), lambda found: layout[found.group(0)], text)


def _unit_setting(name: str) -> str:
    found: list[str] = re.findall(rf"^{name}=(.+)$", UNIT.read_text(), re.MULTILINE)
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this clone, installed into /opt-like venv outside it."""
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    built = _run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=root, stderr=True
    )
    # setuptools warns of metadata it will stop reading (a license table, license classifiers)
    deprecated = [line for line in built.splitlines() if "deprecat" in line.lower()]
    assert not deprecated, deprecated
    wheels = list(dist.glob("intake_gateway-*.whl"))
    assert len(wheels) == 1 and list(dist.glob("intake_gateway-*.tar.gz")), list(dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert "gateway/starter/gateway.yaml" in names
    assert not [name for name in names if name.startswith("tests/")]
    with tarfile.open(next(dist.glob("intake_gateway-*.tar.gz"))) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"systemd/intake-gateway.service", "monitoring/alerts.yaml"} <= members
    venv = root / OPT.lstrip("/")
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", str(venv)], cwd=root)
    _run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheels[0])], cwd=root)
    return venv


def test_wheel_installs_runtime_dependencies_only(installed: Path) -> None:
    listed = _run([str(installed / "bin" / "pip"), "list", "--format=freeze"], cwd=installed)
    names = {_normalised(line.split("==")[0]) for line in listed.splitlines()}
    assert "intake-gateway" in names and "aiohttp" in names
    dev_tools = _dev_tools()
    assert {"pytest", "mypy", "ruff", "build"} <= dev_tools
    assert not names & dev_tools, sorted(names & dev_tools)
    where = _run(
        [str(installed / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
        cwd=installed.parent,
    )
    assert where.startswith(str(installed)), where


def test_version(installed: Path) -> None:
    version = [_in_layout(word, {OPT: str(installed)}) for word in _readme_commands()["--version"]]
    assert version == [str(installed / "bin" / "intake-gateway"), "--version"]
    out = _run(version, cwd=installed.parent)
    assert out.strip() == f"intake-gateway {gateway.__version__}"


def _listen_on_free_ports(config: Path, http_port: int, smtp_port: int) -> None:
    """What an admin edits first: the starter listens on 8080 and 2525."""
    text = config.read_text(encoding="utf-8")
    for default, port in (("127.0.0.1:8080", http_port), ("127.0.0.1:2525", smtp_port)):
        assert text.count(f"listen: {default}") == 1, default
        text = text.replace(f"listen: {default}", f"listen: 127.0.0.1:{port}")
    config.write_text(text, encoding="utf-8")


async def test_init_check_config_and_run_from_the_install(installed: Path, tmp_path: Path) -> None:
    etc, var = tmp_path / ETC.lstrip("/"), tmp_path / VAR.lstrip("/")
    command = str(installed / "bin" / "intake-gateway")
    # the README's commands and the systemd unit's, in this layout
    layout = {OPT: str(installed), ETC: str(etc), VAR: str(var)}
    readme = {
        name: [_in_layout(word, layout) for word in words]
        for name, words in _readme_commands().items()
    }
    assert readme["init"] == [command, "init", str(etc), "--data-dir", str(var)]
    out = _run(readme["init"], cwd=tmp_path)
    assert f"wrote {etc / 'gateway.yaml'}" in out
    assert var.is_dir()
    shipped = sorted(path.relative_to(REPO / "config") for path in REPO.glob("config/**/*.yaml"))
    written = sorted(path.relative_to(etc) for path in etc.glob("**/*.yaml"))
    assert written == shipped
    for relative in shipped:
        if relative.name != "gateway.yaml":  # rules and catalogue as shipped
            assert (etc / relative).read_bytes() == (REPO / "config" / relative).read_bytes()
    # a second init keeps the admin's files
    again = subprocess.run([command, "init", str(etc)], capture_output=True, text=True)
    assert again.returncode == 1 and "--force" in again.stderr

    http_port, smtp_port = free_port(), free_port()
    _listen_on_free_ports(etc / "gateway.yaml", http_port, smtp_port)
    assert readme["check-config"] == [
        command,
        "check-config",
        "--config",
        str(etc / "gateway.yaml"),
    ]
    checked = _run(readme["check-config"], cwd=var)
    assert "OK" in checked
    rule_tests = sorted(str(path) for path in (etc / "rules" / "tests").glob("*.yaml"))
    tests = _run([command, "test-rules", *rule_tests], cwd=var)  # scenarios read their payloads
    assert " 0 failed" in tests and "never exercised" not in tests

    # started as the unit starts it: its ExecStart and WorkingDirectory
    start = _in_layout(_unit_setting("ExecStart"), layout).split()
    assert start == [command, "run", "--config", str(etc / "gateway.yaml")], start
    assert _in_layout(_unit_setting("WorkingDirectory"), layout) == str(var)
    with process_running(start, cwd=var, log=tmp_path / "log") as process:
        await wait_ready(f"http://127.0.0.1:{http_port}", process, within=60)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{http_port}/webhooks/generic",
                json={"name": "disk full", "resource": "db1", "severity": "critical"},
            ) as response,
        ):
            assert response.status == 202, await response.text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert (var / "intake-gateway.sqlite3").is_file()
