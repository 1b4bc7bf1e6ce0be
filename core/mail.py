"""E-mail with attachments through the configured relay (reports.smtp): the periodic reports and
the signed daily receipts. Blocking smtplib, meant to run in a worker thread."""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from canhgac.core.errors import BackendUnavailable, ConfigError
from canhgac.core.report_config import SmtpConfig

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


def _address(addr: str, display_name: str = "") -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def _password(cfg: SmtpConfig) -> str | None:
    if cfg.password_env is not None:
        value = os.environ.get(cfg.password_env)
        if value is None:
            raise ConfigError(f"environment variable {cfg.password_env} is not set", where="reports.smtp")
        return value
    if cfg.password_file is not None:
        try:
            return Path(cfg.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{cfg.password_file}: {exc.strerror}", where="reports.smtp") from exc
    return None


def build_mail(
    cfg: SmtpConfig, to: Sequence[str], subject: str, text: str, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    mail = EmailMessage()  # default policy: RFC 2047-encodes the Vietnamese subject
    mail["Subject"] = " ".join(_CONTROL.sub(" ", subject).split())
    mail["From"] = _address(cfg.from_addr, cfg.from_name)
    mail["To"] = [_address(a) for a in to]
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain=cfg.from_addr.rpartition("@")[2])
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text, subtype="plain", charset="utf-8")
    for item in attachments:
        mail.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename)
    return mail


def send_mail(cfg: SmtpConfig, mail: EmailMessage) -> None:
    """Send; a relay that is down, refuses or times out is BackendUnavailable (the caller retries)."""
    password = _password(cfg)
    context = ssl.create_default_context(cafile=cfg.ca_file)
    try:
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_secs, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_secs)
        with smtp:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.username is not None and password is not None:
                smtp.login(cfg.username, password)
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise BackendUnavailable(f"SMTP {cfg.host}:{cfg.port}: {exc!r}") from exc
