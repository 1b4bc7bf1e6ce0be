"""The incident notice of a case (báo cáo sự cố an toàn thông tin mạng, Circular 20/2017/TT-BTTTT):
one context built from the case and `cases.report`, rendered as DOCX by docxtpl (from the
operator's template or the bundled one) and as PDF by WeasyPrint (from the HTML template below).

Both run in a worker thread: WeasyPrint takes a fraction of a second per page and must not hold
the event loop.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from canhgac.api.cases.report_template import build_template
from canhgac.core.config import Settings
from canhgac.core.errors import ConfigError
from canhgac.core.timezones import parse_zone

SEVERITY_VI = {
    "informational": "Thông tin",
    "low": "Thấp",
    "medium": "Trung bình",
    "high": "Cao",
    "critical": "Nghiêm trọng",
}
STATUS_VI = {
    "open": "Mới mở",
    "investigating": "Đang điều tra, xử lý",
    "contained": "Đã ngăn chặn",
    "closed": "Đã xử lý xong (đóng)",
}
OBSERVABLE_VI = {
    "ip": "Địa chỉ IP",
    "user": "Tài khoản",
    "host": "Máy chủ",
    "hash": "Mã băm",
    "url": "URL",
    "domain": "Tên miền",
}
NOT_GIVEN = "(chưa cập nhật)"
# Of each search result attached to the case, the notice lists this many rows (the case keeps them all).
ATTACHMENT_ROWS_SHOWN = 5
ROW_MAX_CHARS = 200


def _local(value: str | None, settings: Settings) -> str:
    if not value:
        return NOT_GIVEN
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(parse_zone(settings.timezone))
    offset = f"{moment:%z}"
    return f"{moment:%H:%M} ngày {moment:%d/%m/%Y} (UTC{offset[:3]}:{offset[3:]})"


def _row_line(row: dict[str, Any], settings: Settings) -> str:
    """One attached event: its time in the province's zone, its host and its line."""
    when = ""
    if row.get("@timestamp"):
        moment = datetime.fromisoformat(str(row["@timestamp"]).replace("Z", "+00:00"))
        when = f"{moment.astimezone(parse_zone(settings.timezone)):%H:%M:%S %d/%m/%Y}"
    host = (row.get("host") or {}).get("name") or (row.get("host") or {}).get("hostname") or ""
    event = row.get("event") or {}
    line = str(row.get("message") or event.get("original") or "")
    if len(line) > ROW_MAX_CHARS:
        line = line[: ROW_MAX_CHARS - 1] + "…"
    return " ".join(part for part in (when, host, line) if part)


def _attachments(timeline: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """The search results attached to the case: what ran (title, query, range), how many matched,
    and the first rows of the snapshot kept."""
    found = []
    for entry in timeline:
        if entry.get("kind") != "search_attached":
            continue
        rows = entry.get("rows") or []
        summary = (
            f"{entry.get('title') or 'Kết quả tìm kiếm'}: truy vấn {entry.get('query', '')}, "
            f"từ {_local(entry.get('start'), settings)} đến {_local(entry.get('end'), settings)}, "
            f"{entry.get('total', len(rows))} kết quả"
        )
        more = len(rows) - ATTACHMENT_ROWS_SHOWN
        found.append(
            {
                "summary": summary,
                "rows": [_row_line(r, settings) for r in rows[:ATTACHMENT_ROWS_SHOWN]],
                "more": f"(và {more} dòng khác trong hồ sơ sự cố)" if more > 0 else "",
            }
        )
    return found


def report_context(case: dict[str, Any], settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything a template may use (docs/cases.md lists the keys). `case` carries its clocks
    (`service.with_clocks`)."""
    cfg = settings.cases.report
    local_now = now.astimezone(parse_zone(settings.timezone))
    system = case.get("system") or {}
    timeline = case.get("timeline") or []
    alert_titles: list[str] = []
    for entry in timeline:
        if entry.get("kind") == "alerts_added":
            alert_titles += [
                f"{t} (mã {i})" for t, i in zip(entry.get("titles", []), entry.get("alert_ids", []), strict=False)
            ]
    level = system.get("security_level")
    attachments = _attachments(timeline, settings)
    return {
        "case_id": case["id"],
        "title": case.get("title") or NOT_GIVEN,
        "description": case.get("description") or NOT_GIVEN,
        "severity": SEVERITY_VI.get(str(case.get("severity")), str(case.get("severity"))),
        "status": STATUS_VI.get(str(case.get("status")), str(case.get("status"))),
        "reporting_unit": cfg.reporting_unit,
        "governing_body": cfg.governing_body,
        "address": cfg.address or NOT_GIVEN,
        "recipients": list(cfg.recipients),
        "place_date": f"ngày {local_now:%d} tháng {local_now:%m} năm {local_now:%Y}",
        "system_name": system.get("name") or NOT_GIVEN,
        "system_level": f"Cấp độ {level}" if level else NOT_GIVEN,
        "agencies": ", ".join(case.get("agencies") or []) or NOT_GIVEN,
        "detected_at": _local(case.get("detected_at"), settings),
        "alert_count": len(case.get("alert_ids") or []),
        "alerts": alert_titles,
        "observables": [
            f"{OBSERVABLE_VI.get(o['type'], o['type'])}: {o['value']}" for o in case.get("observables") or []
        ],
        "attachment_count": len(attachments),
        "attachments": attachments,
        # the same, one line per paragraph (the DOCX template's lists are paragraphs)
        "attachment_lines": [
            line
            for a in attachments
            for line in (
                f"• {a['summary']}",
                *(f"    – {r}" for r in a["rows"]),
                *([f"    {a['more']}"] * bool(a["more"])),
            )
        ],
        "impact": case.get("impact") or NOT_GIVEN,
        "measures": case.get("measures") or NOT_GIVEN,
        "tasks_done": [
            f"{t['title']} ({_local(t.get('done_at'), settings)})" for t in case.get("tasks") or [] if t.get("done")
        ],
        "status_history": [
            f"{_local(e.get('at'), settings)}: {STATUS_VI.get(e.get('status', ''), e.get('status'))}"
            + (f" - {e['text']}" if e.get("text") else "")
            for e in timeline
            if e.get("kind") == "status"
        ],
        "contact_name": cfg.contact_name or NOT_GIVEN,
        "contact_role": cfg.contact_role,
        "contact_phone": cfg.contact_phone or NOT_GIVEN,
        "contact_email": cfg.contact_email or NOT_GIVEN,
        "report_due": _local((case.get("report_deadline") or {}).get("due_at"), settings),
        "deadline_days": cfg.deadline_days,
    }


def template_bytes(settings: Settings) -> bytes:
    path = settings.cases.report.template_file
    if path is None:
        return build_template()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cases.report.template_file {path}: {exc.strerror}") from exc


def render_docx(context: dict[str, Any], template: bytes) -> bytes:
    from docxtpl import DocxTemplate  # type: ignore[import-untyped]

    # Autoescaping: the case's text is the analysts' and the alerts' (log data): '<' or '&' in it
    # must stay text, never break the document's XML.
    try:
        document = DocxTemplate(io.BytesIO(template))
        document.render(context, autoescape=True)
    except (jinja2.TemplateError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        # An operator's edit broke the template: say so in the log and the error, not a bare 500.
        raise ConfigError(f"the incident report template cannot be rendered: {exc}", where="cases.report") from exc
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 20mm 20mm 20mm 30mm; }
body { font-family: "Times New Roman", "Liberation Serif", "DejaVu Serif", serif; font-size: 13pt; line-height: 1.35; }
table.head { width: 100%; text-align: center; }
h1 { font-size: 14pt; text-align: center; margin: 18pt 0 4pt; }
.sub { text-align: center; font-style: italic; font-size: 12pt; }
h2 { font-size: 13pt; margin: 10pt 0 2pt; }
p { margin: 2pt 0; } ul { margin: 2pt 0 2pt 16pt; padding: 0; }
.note { font-style: italic; font-size: 11pt; margin-top: 14pt; }
.sign { text-align: center; margin-top: 14pt; font-weight: bold; }
</style></head><body>
<table class="head"><tr><td>{{ governing_body }}<br><b>{{ reporting_unit }}</b></td>
<td><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>Độc lập - Tự do - Hạnh phúc</td></tr>
<tr><td>Số: ........../BC</td><td><i>{{ place_date }}</i></td></tr></table>
<h1>BÁO CÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG</h1>
<p class="sub">(Thông báo sự cố theo Thông tư số 20/2017/TT-BTTTT ngày 12/9/2017 của Bộ Thông tin và Truyền
thông quy định về điều phối, ứng cứu sự cố an toàn thông tin mạng trên toàn quốc)</p>
<p><b>Kính gửi:</b></p><ul>{% for r in recipients %}<li>{{ r }}</li>{% endfor %}</ul>
<h2>1. Đơn vị báo cáo</h2>
<p>Tên đơn vị: {{ reporting_unit }}</p><p>Cơ quan chủ quản: {{ governing_body }}</p><p>Địa chỉ: {{ address }}</p>
<h2>2. Hệ thống thông tin bị sự cố</h2>
<p>Tên hệ thống: {{ system_name }}</p><p>Cấp độ an toàn hệ thống thông tin: {{ system_level }}</p>
<p>Đơn vị vận hành, sử dụng: {{ agencies }}</p>
<h2>3. Thời gian phát hiện sự cố</h2><p>{{ detected_at }}</p>
<h2>4. Mô tả sự cố</h2>
<p>Tên sự cố: {{ title }}</p><p>Mức độ nghiêm trọng: {{ severity }}</p><p>{{ description }}</p>
<p>Các cảnh báo liên quan ({{ alert_count }}):</p><ul>{% for a in alerts %}<li>{{ a }}</li>{% endfor %}</ul>
<h2>5. Dấu hiệu, đối tượng liên quan (địa chỉ IP, tài khoản, máy chủ, mã băm, URL)</h2>
<ul>{% for o in observables %}<li>{{ o }}</li>{% endfor %}</ul>
<p>Kết quả tìm kiếm đính kèm ({{ attachment_count }}):</p>
<ul>{% for a in attachments %}<li>{{ a.summary }}<ul>{% for r in a.rows %}<li>{{ r }}</li>{% endfor %}</ul>
{% if a.more %}<i>{{ a.more }}</i>{% endif %}</li>{% endfor %}</ul>
<h2>6. Ảnh hưởng, thiệt hại</h2><p>{{ impact }}</p>
<h2>7. Các biện pháp đã áp dụng</h2><p>{{ measures }}</p>
<ul>{% for t in tasks_done %}<li>{{ t }}</li>{% endfor %}</ul>
<h2>8. Tình trạng xử lý</h2><p>Trạng thái: {{ status }}</p>
<ul>{% for s in status_history %}<li>{{ s }}</li>{% endfor %}</ul>
<h2>9. Thông tin liên hệ</h2>
<p>Người liên hệ: {{ contact_name }} - {{ contact_role }}</p>
<p>Điện thoại: {{ contact_phone }}; Thư điện tử: {{ contact_email }}</p>
<p class="note">Hạn thông báo: {{ report_due }} (chậm nhất {{ deadline_days }} ngày kể từ khi phát hiện sự cố).
Mã sự cố trên hệ thống Canhgac: {{ case_id }}.</p>
<p class="sign">ĐẠI DIỆN ĐƠN VỊ BÁO CÁO<br><i style="font-weight: normal">(Ký, ghi rõ họ tên, đóng dấu)</i></p>
</body></html>
"""
_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(HTML)


def render_pdf(context: dict[str, Any]) -> bytes:
    from weasyprint import HTML as WeasyHTML  # type: ignore[import-untyped]

    # No base_url and nothing external in the page: WeasyPrint fetches no URL while rendering.
    pdf: bytes = WeasyHTML(string=_HTML.render(**context)).write_pdf()
    return pdf
