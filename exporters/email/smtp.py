"""Delivery over SMTP with smtplib: STARTTLS, SSL or plain; an optional login.

Every smtplib, socket and TLS error becomes a MailError whose message says what failed
and never contains the password. A private CA is trusted through SSL_CERT_FILE, as for
any program using the system's TLS defaults.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType
from typing import NoReturn

from collector.errors import MailError
from collector.settings import Settings

_CONNECTION_ERRORS = (OSError, smtplib.SMTPServerDisconnected)


class SmtpTransport:
    """One conversation with the configured SMTP server, used as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.smtp_port}"
        self.broken = False  # the connection is gone: the remaining messages wait
        self._smtp: smtplib.SMTP | None = None
        password = settings.smtp_password
        self._secret = password.get_secret_value() if password is not None else ""

    def __enter__(self) -> SmtpTransport:
        """Connect, secure the connection as configured and log in."""
        if self.settings.smtp_host is None:
            raise MailError("SMTP is not configured: set smtp_host")
        try:
            self._smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            user = self.settings.smtp_username
            self._fail(f"SMTP server {self.where} refused the login of {user!r}", exc)
        except ssl.SSLError as exc:
            self._fail(f"TLS with SMTP server {self.where} failed", exc)
        except (OSError, smtplib.SMTPException) as exc:
            self._fail(f"cannot talk to SMTP server {self.where}", exc)
        return self

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        timeout = s.smtp_timeout_seconds
        smtp: smtplib.SMTP
        if s.smtp_security == "ssl":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
        try:
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, self._secret)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; a refusal of this message leaves the connection usable."""
        if self._smtp is None:
            raise MailError("not connected to an SMTP server")
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{to} ({_reply(*why)})" for to, why in exc.recipients.items())
            self._fail(f"SMTP server {self.where} refused every recipient: {refused}", None)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._fail(f"SMTP server {self.where} refused the message", exc)
        except _CONNECTION_ERRORS as exc:
            self.broken = True
            self._fail(f"lost the SMTP server {self.where}", exc)
        except smtplib.SMTPException as exc:
            self._fail(f"SMTP server {self.where} failed", exc)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()  # the mail is sent or failed already; only goodbye failed
        self._smtp = None

    def _fail(self, what: str, exc: BaseException | None) -> NoReturn:
        detail = _describe(exc) if exc is not None else ""
        message = self._scrub(f"{what}: {detail}" if detail else what)
        if exc is not None and self._secret and self._secret in _describe(exc):
            # A server that echoed the password: drop the original from the chain as well.
            raise MailError(message) from None
        raise MailError(message) from exc

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()[:300]
