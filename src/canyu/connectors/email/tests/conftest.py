"""Real mail servers on 127.0.0.1 for the e-mail connector's tests.

IMAP: a throw-away Dovecot (Debian's ``dovecot-imapd``) with its own configuration in a
temporary directory: maildir storage, a static password, one user (and so one maildir) per test, a free high
port, no TLS. It is installed with apt-get when missing and the tests run as root;
otherwise the tests fail saying what to install. The system's Dovecot is never touched.
SMTP: aiosmtpd, scripted per test to accept, defer (4xx) or refuse (5xx).
"""

from __future__ import annotations

import email
import getpass
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel

FIXTURES = Path(__file__).parent / "fixtures"
MAIL_PASSWORD = "imap-pw-5f1c9e"
SMTP_USER = "relay-user"
SMTP_PASSWORD = "smtp-pw-83ab20"
_users = itertools.count(1)


def eml(name: str, **replace: str) -> bytes:
    """A fixture mail; ``{{KEY}}`` placeholders are replaced by ``KEY=value``."""
    data = (FIXTURES / name).read_bytes()
    for key, value in replace.items():
        data = data.replace(b"{{" + key.encode() + b"}}", value.encode())
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dovecot_binary() -> str:
    found = os.environ.get("CANYU_DOVECOT") or shutil.which("dovecot") or "/usr/sbin/dovecot"
    if Path(found).exists() and Path("/usr/lib/dovecot/imap").exists():
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "dovecot-imapd"],
            check=False,
            env=env,
            capture_output=True,
        )
        found = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if done.returncode == 0 and Path(found).exists():
            return found
    pytest.fail(
        "the e-mail tests need Dovecot's IMAP server (a throw-away instance is started on "
        "127.0.0.1): install it with `sudo apt-get install dovecot-imapd` "
        "(or set CANYU_DOVECOT=/path/to/dovecot)",
        pytrace=False,
    )


@dataclass
class Dovecot:
    """A running throw-away Dovecot; ``add_user()`` makes a fresh mailbox owner."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    mail_uid: int
    mail_gid: int
    host: str = "127.0.0.1"

    def add_user(self) -> str:
        """Any user logs in with MAIL_PASSWORD (static passdb); a new name is a new maildir."""
        return f"box{next(_users)}-{os.getpid()}@xiaomi.test"

    def connect(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(user, MAIL_PASSWORD)
        return client

    def append(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        client = self.connect(user)
        try:
            status, data = client.append(mailbox, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def create(self, user: str, mailbox: str) -> None:
        client = self.connect(user)
        try:
            status, data = client.create(mailbox)
            assert status == "OK", data
        finally:
            client.logout()

    def recreate(self, user: str, mailbox: str) -> None:
        """Delete and create ``mailbox``: same name, new UIDVALIDITY, UIDs from 1."""
        client = self.connect(user)
        try:
            assert client.delete(mailbox)[0] == "OK"
            assert client.create(mailbox)[0] == "OK"
        finally:
            client.logout()

    def flags(self, user: str, mailbox: str = "INBOX") -> list[bytes]:
        client = self.connect(user)
        try:
            client.select(mailbox, readonly=True)
            _status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            return [d for d in data if isinstance(d, bytes)]
        finally:
            client.logout()


def _config(root: Path, port: int, login_user: str, internal_user: str, uid: int, gid: int) -> str:
    return f"""
instance_name = canyu-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {_group_of(internal_user)}
passdb {{
  driver = static
  args = password={MAIL_PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
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


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = _dovecot_binary()
    root = Path(tempfile.mkdtemp(prefix="canyu-dovecot-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        login_user, internal_user = "dovenull", "dovecot"
        mail_uid = pwd.getpwnam("dovecot").pw_uid
    else:
        login_user = internal_user = getpass.getuser()
        mail_uid = os.getuid()
    mail_gid = pwd.getpwuid(mail_uid).pw_gid
    (root / "mail").mkdir()
    os.chown(root / "mail", mail_uid, mail_gid)
    port = free_port()
    config = _config(root, port, login_user, internal_user, mail_uid, mail_gid)
    (root / "dovecot.conf").write_text(config)
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            err = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"Dovecot did not start on 127.0.0.1:{port}:\n{err}\n{log}", pytrace=False)
        time.sleep(0.1)
    server = Dovecot(root=root, port=port, process=process, mail_uid=mail_uid, mail_gid=mail_gid)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def _group_of(user: str) -> str:
    import grp

    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


@pytest.fixture
def mailbox_user(dovecot: Dovecot) -> str:
    """A fresh mailbox owner on the test Dovecot (an empty INBOX)."""
    return dovecot.add_user()


# --- SMTP -----------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 recording every DATA it is given (also refused ones).

    ``rcpt_answers`` / ``data_answers``: answers for the next RCPT / DATA commands, in
    order (e.g. ``"451 4.3.0 try again later"``); ``"250 OK"`` once they run out.
    """

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    rcpt_answers: list[str] = field(default_factory=list)
    data_answers: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        answer = self.server.rcpt_answers.pop(0) if self.server.rcpt_answers else "250 OK"
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        self.server.received.append(received)
        answer = self.server.data_answers.pop(0) if self.server.data_answers else "250 OK"
        if answer.startswith("250"):
            self.server.accepted.append(received)
        return answer


def _smtp(auth: bool) -> Iterator[SmtpServer]:
    state = SmtpServer(host="127.0.0.1", port=free_port())

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            state.logins.append((login, password))
            ok = (login, password) == (SMTP_USER, SMTP_PASSWORD)
            # handled=False: aiosmtpd answers "535" itself (True would leave it silent).
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if auth:
        kwargs = {
            "authenticator": authenticator,
            "auth_require_tls": False,
            "auth_required": True,
        }
    controller = Controller(_Handler(state), hostname="127.0.0.1", port=state.port, **kwargs)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _smtp(auth=False)


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    yield from _smtp(auth=True)


# --- the channel ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def attachments_dir(settings: Any, tmp_path: Path) -> Path:
    settings.CANYU_ATTACHMENTS_DIR = str(tmp_path / "attachments")
    return tmp_path / "attachments"


@pytest.fixture
def make_mail_channel(org: Organization) -> Callable[..., Channel]:
    def make(
        *,
        user: str = "support@xiaomi.test",
        imap_port: int | None = None,
        smtp_port: int | None = None,
        slug: str = "mailbox",
        password: str = MAIL_PASSWORD,
        **config: Any,
    ) -> Channel:
        settings_: dict[str, Any] = {
            "username": user,
            "from_address": "support@xiaomi.test",
            "from_name": "小米客服",
            "reply_to_domain": "xiaomi.test",
            "imap_security": "none",
            "smtp_security": "none",
        }
        if imap_port is not None:
            settings_.update(imap_host="127.0.0.1", imap_port=imap_port)
        if smtp_port is not None:
            settings_.update(smtp_host="127.0.0.1", smtp_port=smtp_port)
        settings_.update(config)
        return Channel.objects.create(
            organization=org,
            slug=slug,
            platform="email",
            name="小米客服邮箱",
            config=settings_,
            credentials={"password": password} if password else {},
        )

    return make


@pytest.fixture
def mail_channel(make_mail_channel: Callable[..., Channel]) -> Channel:
    """A mail channel with no servers: for parsing and threading through ``receive``."""
    return make_mail_channel()


@pytest.fixture
def imap_channel(
    make_mail_channel: Callable[..., Channel], dovecot: Dovecot, mailbox_user: str
) -> Channel:
    """A mail channel reading a fresh mailbox on the test Dovecot."""
    return make_mail_channel(user=mailbox_user, imap_port=dovecot.port)
