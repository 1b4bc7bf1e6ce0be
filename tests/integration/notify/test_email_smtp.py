"""E-mail against a real aiosmtpd server on loopback: plain, STARTTLS with AUTH, refusals."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from canhgac.pipeline.notify import NotifierService

from tests.conftest import free_port
from tests.integration.notify.support import open_service, service_config
from tests.unit.notify.support import make_alert


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content or envelope.content,
                "tls": session.ssl is not None,
                "login": session.login_data,
            }
        )
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"canhgac", b"mat-khau-dung")
        if ok:
            self.logins.append(auth.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI (no `cryptography` here)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def _start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def plain_smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = _start(inbox)
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def tls_smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    inbox = Inbox()
    controller = _start(
        inbox,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=inbox.authenticate,
    )
    yield inbox, controller.port
    controller.stop()


def _mail_channel(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "mail": {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_addr": "canhgac@soc.example.vn",
            "from_name": "Canhgác SOC",
            "to": ["oncall@so-tttt.example.vn", "lead@soc.example.vn"],
            "timeout_secs": 5,
            **extra,
        }
    }


def _service(tmp_path: Path, port: int, **extra: Any) -> NotifierService:
    return open_service(tmp_path, service_config(_mail_channel(port, **extra)))


async def test_message_arrives_with_headers_and_both_parts(plain_smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = plain_smtp
    service = _service(tmp_path, port)
    await service.handle_alert(make_alert())
    assert (await service.run_due()).sent == 1
    [record] = service.list_notifications(status="sent")
    [received] = inbox.messages
    assert received["mail_from"] == "canhgac@soc.example.vn"
    assert received["rcpt_tos"] == ["oncall@so-tttt.example.vn", "lead@soc.example.vn"]
    raw: bytes = received["content"]
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "[Canhgac][CAO] SSH brute force — Sở TT&TT"
    assert mail["From"] == "Canhgác SOC <canhgac@soc.example.vn>"
    assert mail["To"] == "oncall@so-tttt.example.vn, lead@soc.example.vn"
    assert mail["Message-ID"] == f"<{record.id}@canhgac.local>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert "Tác giả quy tắc: Canhgac SOC" in plain.get_content()
    assert '<th align="left">Máy</th><td>mc-web-01</td>' in html.get_content()
    await service.close()


async def test_starttls_and_auth(tls_smtp: tuple[Inbox, int], certificate: tuple[Path, Path], tmp_path: Path) -> None:
    inbox, port = tls_smtp
    secret = tmp_path / "smtp-password"
    secret.write_text("mat-khau-dung\n", encoding="utf-8")
    service = _service(
        tmp_path,
        port,
        security="starttls",
        username="canhgac",
        password_file=str(secret),
        ca_file=str(certificate[0]),
    )
    record = await service.send_test("mail")
    assert record.status == "sent", record.last_error
    [received] = inbox.messages
    assert received["tls"] is True
    assert inbox.logins == ["canhgac"]
    mail = email.message_from_bytes(received["content"], policy=email.policy.default)
    assert mail["Subject"] == "[Canhgac] Thử kênh thông báo mail"
    await service.close()


async def test_wrong_password_fails_for_good(
    tls_smtp: tuple[Inbox, int], certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    inbox, port = tls_smtp
    service = open_service(
        tmp_path,
        service_config(
            _mail_channel(
                port,
                security="starttls",
                username="canhgac",
                password_env="SMTP_PASSWORD",
                ca_file=str(certificate[0]),
            )
        ),
        environ={"SMTP_PASSWORD": "sai"},
    )
    await service.handle_alert(make_alert())
    await service.run_due()
    [record] = service.list_notifications()
    assert record.status == "failed"
    assert record.last_error is not None and record.last_error.startswith("permanent: SMTP 535")
    assert inbox.messages == []
    await service.close()


async def test_untrusted_certificate_is_refused(tls_smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = tls_smtp
    service = open_service(
        tmp_path,
        service_config(_mail_channel(port, security="starttls", username="canhgac", password_env="SMTP_PASSWORD")),
        environ={"SMTP_PASSWORD": "mat-khau-dung"},
    )
    record = await service.send_test("mail")
    assert record.status == "failed"
    assert record.last_error is not None and "TLS certificate rejected" in record.last_error
    assert inbox.messages == []
    await service.close()


async def test_server_down_is_retriable(tmp_path: Path) -> None:
    service = _service(tmp_path, free_port())
    await service.handle_alert(make_alert())
    await service.run_due()
    [record] = service.list_notifications()
    assert record.status == "retrying"
    assert record.last_error is not None and "SMTP connection failed" in record.last_error
    await service.close()
