"""The operator commands run as a user runs them: a child process of the installed
``intake-gateway`` console script (the one beside this Python: the package is
installed into the venv by scripts/venv.sh) against a daemon that serves on this
test's event loop."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
TOKEN = "cli-test-token"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self
        return orjson.loads(self.out)


@dataclass(frozen=True)
class Cli:
    """``intake-gateway`` aimed at one daemon with the token in a file (``--token-file``)."""

    url: str
    token_file: Path

    async def __call__(
        self, *args: str, token: bool = True, env: dict[str, str] | None = None
    ) -> Ran:
        command = [*args, "--url", self.url]
        if token:
            command += ["--token-file", str(self.token_file)]
        return await run_cli(*command, env=env)


SCRIPT = Path(sys.executable).with_name("intake-gateway")


async def run_cli(
    *args: str, env: dict[str, str] | None = None, command: tuple[str, ...] = ()
) -> Ran:
    """Without blocking the loop the daemon under test runs on; ``command`` replaces
    the console script (e.g. ``python -m gateway``)."""
    assert command or SCRIPT.exists(), f"{SCRIPT} is missing: install the package first"
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("INTAKE_GATEWAY")
    }
    process = await asyncio.create_subprocess_exec(
        *(command or (str(SCRIPT),)),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**environment, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-token"
    path.write_text(TOKEN + "\n")
    return path
