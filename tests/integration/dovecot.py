"""A real Dovecot IMAP server for one test: plain IMAP on a free loopback port.

Configuration, sockets and logs live in a short temporary directory of their
own: a UNIX socket path is limited to 108 bytes, and pytest's ``tmp_path``
under parallel workers is longer than Dovecot's socket names allow. Dovecot
never runs mail processes as root, so when the tests run as root the mail
store is a separate temporary directory owned by ``nobody``. Both are
removed afterwards.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

from tests.conftest import require

USER = "helpdesk"
PASSWORD = "dovecot-test-password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _existing_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise LookupError(f"none of the users {names} exists")


@dataclass
class Dovecot:
    binary: str
    directory: Path
    mail_root: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    def write_config(self) -> None:
        if os.geteuid() == 0:
            mail_user = _existing_user("nobody")
            login_user = _existing_user("dovenull", "nobody").pw_name
            internal_user = _existing_user("dovecot", "nobody").pw_name
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            login_user = internal_user = mail_user.pw_name
        group = grp.getgrgid(mail_user.pw_gid).gr_name
        users = self.directory / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.config_file.write_text(
            f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {self.directory}/run
state_dir = {self.directory}/state
instance_name = intake-test-{self.port}
log_path = {self.log_file}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal_user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = {min(mail_user.pw_uid, 500)}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {users}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={self.mail_root}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  user = {"root" if os.geteuid() == 0 else mail_user.pw_name}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""
        )

    def start(self) -> None:
        log = (self.directory / "dovecot.stderr").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_file)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {self.port}: {self.stderr()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def stderr(self) -> str:
        parts = [self.directory / "dovecot.stderr", self.log_file]
        return "\n".join(path.read_text(errors="replace") for path in parts if path.exists())

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes] = ()) -> None:
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=flags)

    def flags(self, folder: str) -> list[tuple[bytes, ...]]:
        """The flags of each message in the folder, oldest first."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            found = client.fetch(client.search(["ALL"]), ["FLAGS"])
            return [tuple(found[uid][b"FLAGS"]) for uid in sorted(found)]

    def recreate(self, folder: str) -> None:
        """Delete and create the folder again: its UIDVALIDITY changes."""
        with self.client() as client:
            client.delete_folder(folder)
            client.create_folder(folder)

    def uidvalidity(self, folder: str) -> int:
        with self.client() as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def kick(self) -> None:
        """Disconnect every session of the test user, as an admin or a restart would."""
        doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin")
        require("doveadm (Debian package dovecot-core)", doveadm is not None)
        assert doveadm is not None
        subprocess.run(
            [doveadm, "-c", str(self.config_file), "kick", USER],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def bytes_sent_per_session(self) -> list[int]:
        """``out=`` of every IMAP session that has logged out (Dovecot logs it then)."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return [int(value) for value in re.findall(r"Disconnected:.* out=(\d+)", text)]


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    require("Dovecot (Debian package dovecot-imapd)", binary is not None)
    assert binary is not None
    directory = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    if os.geteuid() == 0:
        mail_root = Path(tempfile.mkdtemp(prefix="intake-dovecot-mail-"))
        nobody = _existing_user("nobody")
        os.chown(mail_root, nobody.pw_uid, nobody.pw_gid)
    else:
        mail_root = directory / "mail"
        mail_root.mkdir()
    server = Dovecot(binary, directory, mail_root)
    try:
        server.write_config()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(mail_root, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
