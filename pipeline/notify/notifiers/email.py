"""E-mail over SMTP (STARTTLS, implicit TLS, or none on a trusted relay), plain text + HTML.

The Message-ID is derived from the notification's idempotency key, so a resend after a crash
carries the same Message-ID and mail clients show one message.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import httpx
from canhgac.core.notify_config import EmailChannel
from canhgac.pipeline.notify.credentials import resolve_secret
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, notifiers

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_value(text: str) -> str:
    """One line, no control characters: a rule title or alert id with CR/LF can neither add a
    header nor make the message unbuildable (which would fail and retry every e-mail for it)."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _address(addr: str, display_name: str = "") -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


@notifiers.register("email")
class EmailNotifier(Notifier):
    config_type = EmailChannel
    config: EmailChannel

    def __init__(self, name: str, config: EmailChannel, *, environ: Mapping[str, str], http: httpx.AsyncClient):
        super().__init__(name, config, environ=environ, http=http)
        self._password = resolve_secret(
            f"channel {name}", env=config.password_env, file=config.password_file, environ=environ
        )

    def build_request(self, message: Message, delivery: Delivery) -> EmailMessage:
        mail = EmailMessage()  # default policy: RFC 2047-encodes the Vietnamese subject and names
        mail["Subject"] = header_value(message.subject)
        mail["From"] = _address(self.config.from_addr, self.config.from_name)
        mail["To"] = [_address(a) for a in self.config.to]
        mail["Date"] = format_datetime(delivery.at)
        mail["Message-ID"] = f"<{delivery.idempotency_key}@{self.config.message_id_domain}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies stay away
        mail["X-Canhgac-Idempotency-Key"] = delivery.idempotency_key
        if message.alert_ids:
            mail["X-Canhgac-Alert-Id"] = header_value(message.alert_ids[0])
        mail.set_content(message.plain_text(), subtype="plain", charset="utf-8")
        mail.add_alternative(message.html(), subtype="html", charset="utf-8")
        return mail

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _send_blocking(self, mail: EmailMessage) -> None:
        cfg = self.config
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_secs, context=self._tls_context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_secs)
        with smtp:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if cfg.username is not None and self._password is not None:
                smtp.login(cfg.username, self._password)
            smtp.send_message(mail)

    async def send(self, message: Message, delivery: Delivery) -> None:
        mail = self.build_request(message, delivery)
        where = f"channel {self.name}"
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"all recipients refused: {codes}", retriable=any(400 <= c < 500 for c in codes), where=where
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"server does not support it: {exc}", retriable=False, where=where) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {text}", retriable=400 <= exc.smtp_code < 500, where=where
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"TLS certificate rejected: {exc.verify_message}", retriable=False, where=where
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused connections
            raise DeliveryError(f"SMTP connection failed: {exc!r}", retriable=True, where=where) from exc
