"""A real SMTP server for the tests: aiosmtpd on loopback, keeping every message it accepts.

It can require STARTTLS or speak TLS from the start, require a login (LOGIN or PLAIN), be
stopped and started again on the same port (an outage), and hold RCPT commands until
released (a sender that dies mid-conversation).
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    """One message as the server took it: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()  # type: ignore[attr-defined]
        return content


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    hold_rcpt: threading.Event | None = None
    unknown: set[str] = field(default_factory=set)  # mailboxes it refuses
    rcpt_seen: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        self.rcpt_seen.set()
        if address in self.unknown:
            return "550 5.1.1 no such mailbox"
        if self.hold_rcpt is not None:
            import asyncio

            while not self.hold_rcpt.is_set():
                await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self.arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MailServer:
    """aiosmtpd on 127.0.0.1; ``security`` is ``none``, ``starttls`` or ``ssl``."""

    def __init__(
        self, security: str = "none", tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None, mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
        echo_password: bool = False,
    ) -> None:  # fmt: skip
        self.security, self.tls, self.login, self.mechanisms = security, tls, login, mechanisms
        self.echo_password = echo_password  # a careless server: its refusal quotes the password
        self.port = free_port()
        self.handler = _Handler()
        self.logins: list[tuple[str, bytes]] = []  # (mechanism, user) of each accepted login
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> MailServer:
        options: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if self.security == "starttls":
            options.update(tls_context=self.tls, require_starttls=True)
        elif self.security == "ssl":
            options.update(ssl_context=self.tls)
        if self.login is not None:
            excluded = [m for m in ("LOGIN", "PLAIN") if m not in self.mechanisms]
            # Under TLS from the start aiosmtpd cannot tell it is encrypted: it offers AUTH
            # only when told TLS is not required (and then only without requiring AUTH).
            tls_known = self.security != "ssl"
            options.update(authenticator=self._authenticate, auth_required=tls_known,
                           auth_exclude_mechanism=excluded, auth_require_tls=tls_known)  # fmt: skip
        self.controller = Controller(self.handler, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:  # fmt: skip
        assert self.login is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.login
        if auth_data.login == user.encode() and auth_data.password == password.encode():
            self.logins.append((mechanism, auth_data.login))
            return AuthResult(success=True)
        if self.echo_password:
            given = auth_data.password.decode(errors="replace")
            return AuthResult(
                success=False, handled=False, message=f"535 5.7.8 bad password {given}"
            )
        return AuthResult(success=False, handled=False)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages once ``count`` have arrived (bounded in time)."""
        with self.handler.arrived:
            self.handler.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 and localhost that it signed:
    (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("touchmetrics test CA"))
        .issuer_name(name("touchmetrics test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    alt = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    server = (
        x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(alt, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def server_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context
