"""A real IMAP server for the inbox tests: Debian's Dovecot, started on loopback ports with a
throwaway configuration (a passwd-file user, a Maildir in a temporary folder, a self-signed
certificate for the TLS ports) and stopped after the test module. The same user can also
log in with XOAUTH2 or OAUTHBEARER: Dovecot's oauth2 passdb validates the access token
itself (a JWT signed with `OAUTH2_KEY`), so no OAuth2 server is needed.

Dovecot refuses to run mail processes as root, so when the suite runs as root the
mailbox belongs to Dovecot's own `dovecot` user, in a folder of its own under the
system's temporary directory (pytest's folders are private to root).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers.smtp import make_certificates

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "inbox"
PASSWORD = "dovecot-test-password-6d1f"
# The HMAC key Dovecot's oauth2 passdb checks HS256 access tokens with (local validation,
# no OAuth2 server); tests sign tokens with it through `ImapServer.oauth2_token`.
OAUTH2_KEY = b"dovecot-test-oauth2-hmac-key-3a9e7c51"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int  # plain, STARTTLS offered
    tls_port: int  # implicit TLS
    ca_file: Path
    user: str
    password: str
    log_file: Path  # Dovecot's log: which mechanism a login used, why one failed

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def oauth2_token(
        self, *, expires_in: int = 600, key: bytes = OAUTH2_KEY, subject: str | None = None
    ) -> str:
        """An HS256 access token for the user, as an OAuth2 provider would issue one.

        `expires_in` below zero gives a token that has already expired, another `key`
        one the server cannot verify, another `subject` one for someone else's mailbox.
        """
        claims = {"sub": subject or self.user, "exp": int(time.time()) + expires_in}
        return hs256_jwt(claims, key)

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for message in messages:
                client.append(folder, message)
        finally:
            client.logout()

    def uids(self, folder: str = "INBOX") -> list[int]:
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))
        finally:
            client.logout()

    def unseen(self, folder: str = "INBOX") -> list[int]:
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("UNSEEN"))
        finally:
            client.logout()


def hs256_jwt(claims: dict[str, object], key: bytes) -> str:
    """A JWT (RFC 7519) signed with HMAC-SHA256: header.claims.signature, each base64url
    without padding. Built here with the standard library (PyJWT is not a dependency)."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    signature = part(hmac.new(key, header + b"." + body, hashlib.sha256).digest())
    return (header + b"." + body + b"." + signature).decode("ascii")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(
    root: Path, mail: Path, port: int, tls_port: int, uid: int, gid: int, oauth2: bool
) -> str:
    certificate = root / "cert.pem"
    mechanisms = "plain login xoauth2 oauthbearer" if oauth2 else "plain login"
    oauth2_passdb = (
        f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
        f"  args = {root}/dovecot-oauth2.conf.ext\n}}\n"
        if oauth2
        else ""
    )
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = capitolmail-test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{certificate}
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
first_valid_uid = {uid}
first_valid_gid = {gid}
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:{mail}/%u
{oauth2_passdb}passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def running_imap_server(directory: Path, *, oauth2: bool = True) -> Iterator[ImapServer]:
    """Dovecot on two free loopback ports; skips the test, saying why, when it cannot run.

    `oauth2=False` leaves XOAUTH2 and OAUTHBEARER out, as a server taking passwords only.
    """
    if not Path(DOVECOT).exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)")
    certificates = make_certificates(directory / "certificates")
    root = Path(tempfile.mkdtemp(prefix="capitolmail-dovecot-"))
    try:
        _write_certificate(certificates, root)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        _write_oauth2_validation(root)
        mail = root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            uid, gid = owner.pw_uid, owner.pw_gid
            os.chmod(root, 0o755)
            os.chown(mail, uid, gid)
            extra = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            name = pwd.getpwuid(uid).pw_name
            extra = f"default_login_user = {name}\ndefault_internal_user = {name}\n"
        port, tls_port = _free_port(), _free_port()
        (root / "dovecot.conf").write_text(
            _config(root, mail, port, tls_port, uid, gid, oauth2) + extra
        )
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            server = ImapServer(
                "127.0.0.1", port, tls_port, root / "ca.pem", USER, PASSWORD, root / "dovecot.log"
            )
            _wait_for_login(server, process, root)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _write_oauth2_validation(root: Path) -> None:
    """Dovecot's oauth2 passdb validating JWTs itself: the key for a token with no `azp`
    and no `kid`, signed HS256, is the file keys/default/HS256/default, holding the key in
    base64; the login name must equal the token's `sub`."""
    keys = root / "keys"
    (keys / "default" / "HS256").mkdir(parents=True)
    (keys / "default" / "HS256" / "default").write_text(
        base64.b64encode(OAUTH2_KEY).decode("ascii")
    )
    (root / "dovecot-oauth2.conf.ext").write_text(
        f"introspection_mode = local\n"
        f"local_validation_key_dict = fs:posix:prefix={keys}/\n"
        "username_attribute = sub\n"
    )


def _write_certificate(certificates: object, root: Path) -> None:
    """The server's certificate and key, and the CA that signed it, where Dovecot reads them."""
    source = Path(certificates.ca_file).parent  # type: ignore[attr-defined]
    shutil.copy(source / "server.pem", root / "cert.pem")
    shutil.copy(source / "server.key", root / "key.pem")
    shutil.copy(certificates.ca_file, root / "ca.pem")  # type: ignore[attr-defined]
    os.chmod(root / "key.pem", 0o600)


def _wait_for_login(server: ImapServer, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = (
                (root / "dovecot.log").read_text(errors="replace")[-2000:]
                if (root / "dovecot.log").exists()
                else ""
            )
            pytest.skip(f"Dovecot did not start: {error.strip()} {log.strip()}"[:500])
        try:
            server.client().logout()
            return
        except (OSError, Exception):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
