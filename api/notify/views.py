"""On-call endpoints.

- `GET /api/v1/notify/ack?token=…` shows a confirmation page; `POST` (the page's button)
  acknowledges. Mail scanners open links, so a GET never changes anything. The signed, expiring,
  single-purpose token is the credential: no login is needed, as on-call staff read it on a phone.
  A token works once (its use is recorded in OpenSearch: api/notify/service.py), and it only
  acknowledges a `new` alert: an alert already acknowledged, in progress or closed stays as it is.
- `GET /api/v1/notifications` lists the outbox: sent, retrying, failed with reason.
- `POST /api/v1/notify/test/{channel}` sends a test message (admins).
The API reads the notifier's outbox (SQLite under `data_dir`), so these work where the API runs
beside the notifier, as `canhgac run` does; a split deployment shares `data_dir`.
"""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from canhgac.api.alerts import service as alerts_service
from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import Admin, Reader, State, client_ip
from canhgac.api.errors import ERROR_RESPONSES
from canhgac.api.notify import service as ack_links
from canhgac.api.notify.models import Notification, NotificationList
from canhgac.core.alert import Status
from canhgac.core.errors import BackendUnavailable, CanhgacError, ConfigError, Conflict, InvalidRequest, NotFound
from canhgac.pipeline.notify import AckTokenError, NotifierService
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["notify"])
ACK_PRINCIPAL = Principal(username="ack-link", role="analyst", agency=None, via="token", credential_id="ack-link")
MAX_ACK_FORM_BYTES = 4096  # the form carries one token (at most ack.MAX_TOKEN_CHARS)


async def notifier(request: Request) -> NotifierService:
    app = request.app
    service: NotifierService | None = getattr(app.state, "notifier", None)
    if service is None:
        settings = app.state.canhgac.settings
        service = NotifierService.open(settings.notify, data_dir=settings.data_dir)
        app.state.notifier = service
    return service


async def close_service(app: FastAPI) -> None:
    service: NotifierService | None = getattr(app.state, "notifier", None)
    if service is not None:
        await service.close()


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        status_code=status,
        content=(
            "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
            "color:#1f2937}button{font-size:1.1rem;padding:.7rem 1.4rem;border:0;border-radius:.4rem;"
            "background:#0f3460;color:#fff}p.muted{color:#6b7280}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
        ),
    )


# The link pages answer in HTML, even when they refuse; only an unreachable backend answers JSON.
_HTML: dict[str, Any] = {"content": {"text/html": {}}}
_LINK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid or expired link", **_HTML},
    409: {"description": "the link was already used", **_HTML},
    503: {
        "description": "OpenSearch unreachable: retry later",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    },
}


@router.get("/api/v1/notify/ack", response_class=HTMLResponse, responses=_LINK_ERRORS)
async def ack_page(request: Request, token: Annotated[str, Query(max_length=2048)]) -> HTMLResponse:
    """Confirmation page for an acknowledgement link (changes nothing)."""
    try:
        alert_id = (await notifier(request)).verify_ack_token(token)
    except (AckTokenError, ConfigError) as exc:
        return page("Liên kết không hợp lệ / Invalid link", f"<p>{html.escape(exc.message)}</p>", 400)
    state = request.app.state.canhgac
    if await ack_links.was_used(state.opensearch, ack_links.ack_links_index(state.settings.opensearch), token):
        return _used_page(alert_id)
    return page(
        "Tiếp nhận cảnh báo / Acknowledge alert",
        f"<p>Cảnh báo / Alert <code>{html.escape(alert_id)}</code></p>"
        "<form method='post'><input type='hidden' name='token' value='" + html.escape(token, quote=True) + "'>"
        "<button type='submit'>Tiếp nhận / Acknowledge</button></form>"
        "<p class='muted'>Việc tiếp nhận dừng chuyển cấp (escalation). Acknowledging stops escalation.</p>",
    )


@router.post(
    "/api/v1/notify/ack",
    response_class=HTMLResponse,
    responses=_LINK_ERRORS
    | {404: {"description": "no such alert", **_HTML}, 413: {"description": "form too large", **_HTML}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}
                }
            },
        }
    },
)
async def ack(request: Request, state: State) -> HTMLResponse:
    """Acknowledge the alert a signed link names (form field `token`): status → acknowledged,
    escalation stops."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_ACK_FORM_BYTES:
            return page("Yêu cầu quá lớn / Request too large", "", 413)
    token = parse_qs(body.decode("utf-8", errors="replace")).get("token", [""])[0]
    service = await notifier(request)
    try:
        alert_id = service.verify_ack_token(token)  # the MAC is checked before the payload is read
    except (AckTokenError, ConfigError) as exc:
        return page("Liên kết không hợp lệ / Invalid link", f"<p>{html.escape(exc.message)}</p>", 400)
    used_index = ack_links.ack_links_index(state.settings.opensearch)
    if not await ack_links.claim(state.opensearch, used_index, token, alert_id, client_ip(request)):
        return _used_page(alert_id)
    change = ack_links.acknowledge_if_new(ACK_PRINCIPAL, "acknowledged through the on-call link")
    try:
        alert = await alerts_service.change_alert(
            state.opensearch, state.settings.opensearch.alerts_index, alert_id, None, change
        )
    except Conflict as exc:
        return page(
            "Đã được xử lý / Already handled",
            f"<p><code>{html.escape(alert_id)}</code>: {html.escape(exc.message)}</p>",
        )
    except NotFound:
        return page("Không tìm thấy / Not found", f"<p><code>{html.escape(alert_id)}</code></p>", 404)
    except BackendUnavailable:
        await ack_links.release(state.opensearch, used_index, token)  # nothing changed: the link may be retried
        raise
    await ack_links.purge_older_than(state.opensearch, used_index, service.config.ack_link_ttl_hours / 24 + 1)
    await state.publish_alert(alert)
    try:
        await service.acknowledge(alert_id, "ack-link")  # this process's outbox, if it has the alert
    except NotFound:
        pass  # the notifier runs elsewhere: the published status change stops it there
    await audit(
        request,
        actor=ACK_PRINCIPAL,
        action="alert.status",
        target_type="alert",
        target_id=alert_id,
        details={"status": Status.ACKNOWLEDGED, "via": "ack-link"},
    )
    return page("Đã tiếp nhận / Acknowledged", f"<p>Cảnh báo / Alert <code>{html.escape(alert_id)}</code></p>")


def _used_page(alert_id: str) -> HTMLResponse:
    return page(
        "Liên kết đã được dùng / Link already used",
        f"<p>Cảnh báo / Alert <code>{html.escape(alert_id)}</code>: this link was already used; "
        "open the console to see the alert.</p>",
        409,
    )


@router.get("/api/v1/notifications", response_model=NotificationList, responses=ERROR_RESPONSES)
async def list_notifications(
    request: Request,
    principal: Reader,
    alert_id: Annotated[str | None, Query(max_length=256)] = None,
    status: Literal["pending", "sending", "sent", "retrying", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Notifications and their delivery status (sent, retrying, failed with the reason)."""
    service = await notifier(request)
    found = service.list_notifications(alert_id=alert_id, status=status, limit=limit, agency=principal.agency_scope)
    return {"items": [r.to_dict() for r in found]}


@router.post("/api/v1/notify/test/{channel}", response_model=Notification, responses=ERROR_RESPONSES)
async def send_test(channel: str, request: Request, principal: Admin) -> dict[str, Any]:
    """Send one test message through a channel; the answer is its outbox record."""
    service = await notifier(request)
    try:
        result = await service.send_test(channel)
    except NotFound:
        raise
    except CanhgacError as exc:
        raise InvalidRequest(f"test send failed: {exc.message}") from exc
    return result.to_dict()
