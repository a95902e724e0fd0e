"""CPython's email test corpus (``test.test_email``'s data files) through SMTP intake.

Every message is sent as an MTA would put it on the wire (CRLF line ends) and
must be answered 250, stored byte for byte, and processed by the pipeline
without a parser crash. The corpus reuses a few Message-IDs between different
messages; each file is sent from its own envelope sender so that each is its
own mail (same Message-ID and sender is, by design, the same mail).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import smtplib
from pathlib import Path

from storage import models
from tests.conftest import ConfigWriter, require
from tests.integration.daemon import eventually, running_daemon
from tests.integration.mail_support import HELPDESK, MAILBOXES, smtp_port, smtp_section


def _corpus() -> list[Path]:
    spec = importlib.util.find_spec("test.test_email")
    require("CPython's test.test_email package", spec is not None and spec.origin is not None)
    assert spec is not None and spec.origin is not None
    return sorted((Path(spec.origin).parent / "data").glob("msg_*.txt"))


def _on_the_wire(raw: bytes) -> bytes:
    crlf = re.sub(rb"\r?\n", b"\r\n", raw)
    return crlf if crlf.endswith(b"\r\n") else crlf + b"\r\n"


async def test_cpython_email_corpus_is_stored_unchanged_and_processed(
    write_config: ConfigWriter,
) -> None:
    files = _corpus()
    assert len(files) >= 40
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:

        def send_all() -> dict[str, int]:
            ids: dict[str, int] = {}
            with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=30) as client:
                client.ehlo("corpus.test.example")
                for number, path in enumerate(files):
                    client.mail(f"corpus-{number}@test.example")
                    client.rcpt(HELPDESK)
                    code, answer = client.data(_on_the_wire(path.read_bytes()))
                    assert code == 250, (path.name, code, answer)
                    ids[path.name] = int(answer.decode().rsplit(" ", 1)[1])
            return ids

        ids = await asyncio.to_thread(send_all)
        assert len(set(ids.values())) == len(files)
        for name, record_id in ids.items():
            row = await models.IntakeRecordRow.get(id=record_id)
            assert bytes(row.body) == _on_the_wire(
                next(p for p in files if p.name == name).read_bytes()
            ), name

        async def unfinished() -> list[tuple[int, str, str | None]]:
            rows = await models.IntakeRecordRow.filter(id__in=list(ids.values()))
            return [(row.id, row.state, row.error) for row in rows if row.state != "processed"]

        await eventually(unfinished, lambda rows: rows == [], within=60)
