"""A real Dovecot on loopback with one user, the real mbsync between it and a Maildir,
and an IMAP client acting as the person's mail client on the server.

Dovecot runs from its own configuration in a temporary directory (a passwd-file user,
plaintext login allowed on 127.0.0.1, Maildir++ storage in that directory) on a free port,
and stops with the test. As root its mail processes run as the ``dovecot`` user (Dovecot
refuses uid 0); otherwise as the user running the tests.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests import paths
from tests.conftest import IN_CI

USER, PASSWORD = "ada", "correct-horse"
FOLDERS = {"Drafts": "\\Drafts", "Sent Items": "\\Sent"}
README = paths.ROOT / "README.md"


def program(name: str) -> str:
    """The path of ``name`` (also in /usr/sbin, off a user's PATH); skips the test when it
    is missing, fails it in CI (.ci/run installs dovecot-imapd and isync)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    message = f"{name} is not installed (apt-get install dovecot-imapd isync)"
    if IN_CI:
        pytest.fail(f"{message}; CI must have it (.ci/run installs it)")
    pytest.skip(message)
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(home: Path, port: int) -> str:
    if os.geteuid() == 0:
        mail_user, internal, login = "dovecot", "dovecot", "dovenull"
    else:
        mail_user = internal = login = getpass.getuser()
    account = pwd.getpwnam(mail_user)
    group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
    mailboxes = "".join(
        f'  mailbox "{name}" {{\n    special_use = {use}\n    auto = subscribe\n  }}\n'
        for name, use in FOLDERS.items()
    )
    return f"""
base_dir = {home}/run
state_dir = {home}/run
log_path = {home}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/users
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={home}/users-home/%u
}}
mail_location = maildir:{home}/users-home/%u/Maildir
namespace inbox {{
  inbox = yes
{mailboxes}}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    home: Path
    port: int

    def client(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        connection.login(USER, PASSWORD)
        return connection

    @contextlib.contextmanager
    def folder(self, name: str) -> Iterator[imaplib.IMAP4]:
        connection = self.client()
        try:
            typ, _ = connection.select(f'"{name}"')
            assert typ == "OK", name
            yield connection
        finally:
            connection.logout()

    def messages(self, name: str) -> list[EmailMessage]:
        """The messages in folder ``name`` not flagged \\Deleted, as the server has them."""
        found = []
        with self.folder(name) as imap:
            _, data = imap.uid("SEARCH", "UNDELETED")
            for uid in data[0].split():
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next(p[1] for p in parts if isinstance(p, tuple))
                message = message_from_bytes(raw, policy=policy.default)
                assert isinstance(message, EmailMessage)
                message["X-Test-Uid"] = uid.decode()
                found.append(message)
        return found

    def append(self, name: str, message: EmailMessage, flags: str = "") -> None:
        with self.folder(name) as imap:
            typ, _ = imap.append(f'"{name}"', f"({flags})", None, message.as_bytes())
            assert typ == "OK"

    def delete(self, name: str, uid: str, *, expunge: bool = True) -> None:
        """The mail client deletes a message; ``expunge`` removes it for good at once."""
        with self.folder(name) as imap:
            imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
            if expunge:
                imap.expunge()


@contextlib.contextmanager
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot serving the user ``ada`` on a free loopback port, stopped afterwards."""
    binary = program("dovecot")
    home = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        home.chmod(0o755)  # Dovecot's own users must reach its files
        (home / "run").mkdir()
        (home / "users-home").mkdir()
        if os.geteuid() == 0:
            shutil.chown(home / "users-home", "dovecot", "dovecot")
        (home / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        port = _free_port()
        (home / "dovecot.conf").write_text(_config(home, port))
        with (home / "stderr").open("wb") as errors:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(home / "dovecot.conf")],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                said = [
                    p.read_text() for p in (home / "stderr", home / "dovecot.log") if p.exists()
                ]
                pytest.fail(f"Dovecot did not start: {' '.join(said)}")
            time.sleep(0.05)
        yield Dovecot(home, port)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(home, ignore_errors=True)


def readme_mbsyncrc() -> str:
    """The sample mbsyncrc of the README, verbatim."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"\n```\n(IMAPAccount .*?)```\n", text, re.DOTALL)
    assert block is not None, "the README has no sample mbsyncrc"
    return block.group(1)


def local_mbsyncrc(sample: str, server: Dovecot, maildir: Path) -> str:
    """``sample`` pointed at the test's server and Maildir: the host, port, user,
    password and inbox lines replaced, plaintext login on loopback allowed; every other
    line as written."""
    replacements = {
        "Host": "Host 127.0.0.1",
        "Port": f"Port {server.port}",
        "User": f"User {USER}",
        "PassCmd": f"Pass {PASSWORD}",
        "SSLType": "SSLType None\nAuthMechs LOGIN",
        "Inbox": f"Inbox {maildir}",
        "Path": f"Path {maildir}/",
    }
    lines = []
    for line in sample.splitlines():
        keyword = line.split(" ", 1)[0]
        lines.append(replacements.get(keyword, line))
    return "\n".join(lines) + "\n"


@dataclass
class Mbsync:
    """The real mbsync with one configuration and its own HOME."""

    config: Path

    def __call__(self) -> None:
        done = subprocess.run(
            [program("mbsync"), "-c", str(self.config), "-a"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(self.config.parent)},
            check=False,
        )
        assert done.returncode == 0, f"mbsync failed: {done.stderr}"
