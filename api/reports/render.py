"""The periodic report as a Vietnamese PDF: an HTML page (Jinja, autoescaped) with charts drawn as
inline SVG here, rendered by WeasyPrint in the fonts the incident notice uses (api/cases/report.py).

Nothing external is referenced, and no base_url is given: WeasyPrint fetches no URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import jinja2
from canhgac.api.cases.report import SEVERITY_VI
from canhgac.core.config import Settings
from canhgac.core.timezones import parse_zone

PERIOD_VI = {"daily": "ngày", "weekly": "tuần", "monthly": "tháng"}
STATUS_VI = {"new": "Mới", "acknowledged": "Đã xác nhận", "in_progress": "Đang xử lý", "closed": "Đã đóng"}
SEVERITY_COLORS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#2563eb",
    "informational": "#6b7280",
}


def duration_vi(secs: float | None) -> str:
    if secs is None:
        return "chưa có"
    secs = round(secs)
    if secs < 60:
        return f"{secs} giây"
    minutes, _ = divmod(secs, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} ngày" if days else "", f"{hours} giờ" if hours else "", f"{minutes} phút" if minutes else ""]
    return " ".join(p for p in parts if p)


def period_label(period: dict[str, Any]) -> str:
    first = datetime.fromisoformat(period["first_day"])
    last = datetime.fromisoformat(period["last_day"])
    if period["kind"] == "daily":
        return f"Ngày {first:%d/%m/%Y}"
    if period["kind"] == "weekly":
        return f"Tuần từ {first:%d/%m/%Y} đến {last:%d/%m/%Y}"
    return f"Tháng {first:%m/%Y}"


def _local(value: str | None, settings: Settings) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(parse_zone(settings.timezone))
    return f"{moment:%H:%M %d/%m/%Y}"


def bar_chart(rows: list[tuple[str, int, str]], width: int = 460) -> str:
    """Horizontal bars: (label, value, colour) per row."""
    if not rows:
        return ""
    label_w, row_h, top = 150, 22, 4
    peak = max(value for _, value, _ in rows) or 1
    span = width - label_w - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + row_h * len(rows)}" '
        f'viewBox="0 0 {width} {top + row_h * len(rows)}" font-family="DejaVu Sans" font-size="10">'
    ]
    for i, (label, value, colour) in enumerate(rows):
        y = top + i * row_h
        bar = max(1, round(span * value / peak)) if value else 0
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + bar + 4}" y="{y + 14}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def column_chart(points: list[tuple[str, int]], width: int = 460, height: int = 150) -> str:
    """Columns over time: (axis label, value) per bucket, every few labels shown."""
    if not points:
        return ""
    left, bottom, top = 30, 18, 8
    peak = max(v for _, v in points) or 1
    slot = (width - left - 4) / len(points)
    plot_h = height - bottom - top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans" font-size="8">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" '
        'stroke="#333" stroke-width="0.5"/>',
        f'<text x="{left - 3}" y="{top + 6}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 3}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    every = max(1, len(points) // 10)
    for i, (label, value) in enumerate(points):
        h = plot_h * value / peak
        x = left + i * slot
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="#1d4ed8"/>'
        )
        if i % every == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - 5}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def report_context(figures: dict[str, Any], settings: Settings, now: datetime) -> dict[str, Any]:
    period = figures["period"]
    agency = figures.get("agency")
    severity_rows = [
        (SEVERITY_VI.get(s, s), n, SEVERITY_COLORS.get(s, "#6b7280")) for s, n in figures["by_severity"].items()
    ]
    system_rows = [
        (f"{s['name']} (cấp {s['security_level']})" if s.get("security_level") else s["name"], s["count"], "#0f766e")
        for s in figures["by_system"]
    ]
    if figures.get("without_system"):
        system_rows.append(("Chưa gắn hệ thống", figures["without_system"], "#9ca3af"))
    zone = parse_zone(settings.timezone)
    points = []
    for bucket in figures["over_time"]:
        start = bucket["start"]
        moment = (
            datetime.fromtimestamp(start / 1000, zone)
            if isinstance(start, int | float)
            else datetime.fromisoformat(str(start).replace("Z", "+00:00")).astimezone(zone)
        )
        points.append((f"{moment:%H}h" if period["kind"] == "daily" else f"{moment:%d/%m}", int(bucket["count"])))
    local_now = now.astimezone(zone)
    return {
        "unit": settings.cases.report.reporting_unit,
        "governing_body": settings.cases.report.governing_body,
        "kind_vi": PERIOD_VI[period["kind"]],
        "period_label": period_label(period),
        "scope": f"Đơn vị: {agency}" if agency else "Toàn tỉnh (tất cả các đơn vị)",
        "generated": f"{local_now:%H:%M} ngày {local_now:%d/%m/%Y}",
        "timezone": settings.timezone,
        "total": figures["alerts_total"],
        "severity": [(label, n) for label, n, _ in severity_rows],
        "severity_chart": bar_chart(severity_rows),
        "status": [(STATUS_VI.get(k, k), v) for k, v in figures["by_status"].items()],
        "systems": system_rows,
        "systems_chart": bar_chart(system_rows[:15]),
        "time_chart": column_chart(points),
        "rules": [
            {
                "title": r["title"],
                "id": r["id"],
                "severity": SEVERITY_VI.get(str(r.get("severity")), r.get("severity") or ""),
                "count": r["count"],
            }
            for r in figures["top_rules"]
        ],
        "timed": figures["timed_alerts"],
        "acknowledged": figures["acknowledged"],
        "closed": figures["closed"],
        "capped": figures["timed_alerts"] < figures["alerts_total"],
        "ack_median": duration_vi(figures["ack_median_secs"]),
        "ack_p90": duration_vi(figures["ack_p90_secs"]),
        "close_median": duration_vi(figures["close_median_secs"]),
        "close_p90": duration_vi(figures["close_p90_secs"]),
        "silent_total": figures["silent_total"],
        "silent": [
            {
                "what": f"{s['source_id']} / {s['host']}" if s.get("host") else s["source_id"],
                "agency": s.get("agency") or "",
                "since": _local(s.get("since"), settings),
                "cleared": _local(s.get("cleared_at"), settings) or "chưa gửi lại",
            }
            for s in figures["silent"]
        ],
        "gaps_total": figures["coverage_gaps_total"],
        "gaps": [
            {
                "system": g["system"],
                "category": g["category"],
                "agency": g.get("agency") or "",
                "since": _local(g.get("since"), settings),
                "cleared": _local(g.get("cleared_at"), settings) or "vẫn thiếu",
            }
            for g in figures["coverage_gaps"]
        ],
    }


HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm 18mm 18mm 22mm;
  @bottom-right { content: "Trang " counter(page) "/" counter(pages); font-size: 9pt; } }
body { font-family: "Times New Roman", "Liberation Serif", "DejaVu Serif", serif; font-size: 12pt; line-height: 1.3; }
table.head { width: 100%; text-align: center; font-size: 11pt; }
h1 { font-size: 15pt; text-align: center; margin: 14pt 0 2pt; }
.sub { text-align: center; margin: 0 0 10pt; }
h2 { font-size: 13pt; margin: 12pt 0 4pt; }
table.data { border-collapse: collapse; width: 100%; font-size: 11pt; margin: 4pt 0; }
table.data th, table.data td { border: 0.5pt solid #555; padding: 2pt 5pt; text-align: left; }
table.data td.n, table.data th.n { text-align: right; }
.note { font-style: italic; font-size: 10pt; color: #333; }
svg { margin: 4pt 0; }
</style></head><body>
<table class="head"><tr><td>{{ governing_body }}<br><b>{{ unit }}</b></td>
<td><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>Độc lập - Tự do - Hạnh phúc</td></tr></table>
<h1>BÁO CÁO GIÁM SÁT AN TOÀN THÔNG TIN MẠNG ĐỊNH KỲ</h1>
<p class="sub"><b>Báo cáo {{ kind_vi }}: {{ period_label }}</b><br>{{ scope }}<br>
<span class="note">Lập lúc {{ generated }} (múi giờ {{ timezone }})</span></p>

<h2>1. Tổng quan</h2>
<p>Tổng số cảnh báo: {{ total }}</p>
<table class="data"><tr><th>Trạng thái</th><th class="n">Số cảnh báo</th></tr>
{% for label, n in status %}<tr><td>{{ label }}</td><td class="n">{{ n }}</td></tr>{% endfor %}</table>
{% if total %}<p>Số cảnh báo theo thời gian:</p>{{ time_chart | safe }}{% endif %}

<h2>2. Cảnh báo theo mức độ nghiêm trọng</h2>
<table class="data"><tr><th>Mức độ</th><th class="n">Số cảnh báo</th></tr>
{% for label, n in severity %}<tr><td>{{ label }}</td><td class="n">{{ n }}</td></tr>{% endfor %}</table>
{% if total %}{{ severity_chart | safe }}{% endif %}

<h2>3. Cảnh báo theo hệ thống thông tin</h2>
{% if systems %}<table class="data"><tr><th>Hệ thống</th><th class="n">Số cảnh báo</th></tr>
{% for label, n, _ in systems %}<tr><td>{{ label }}</td><td class="n">{{ n }}</td></tr>{% endfor %}</table>
{{ systems_chart | safe }}{% else %}<p>Không có cảnh báo trong kỳ.</p>{% endif %}

<h2>4. Các luật phát hiện nhiều cảnh báo nhất</h2>
{% if rules %}<table class="data"><tr><th>#</th>
<th>Luật</th>
<th>Mức độ</th>
<th class="n">Số cảnh báo</th></tr>
{% for r in rules %}<tr><td>{{ loop.index }}</td>
<td>{{ r.title }}<br><span class="note">{{ r.id }}</span></td>
<td>{{ r.severity }}</td><td class="n">{{ r.count }}</td></tr>{% endfor %}</table>
{% else %}<p>Không có cảnh báo trong kỳ.</p>{% endif %}

<h2>5. Thời gian xử lý</h2>
<table class="data"><tr><th></th><th>Trung vị</th><th>Phân vị 90</th><th class="n">Số cảnh báo</th></tr>
<tr><td>Thời gian đến khi xác nhận</td>
<td>{{ ack_median }}</td>
<td>{{ ack_p90 }}</td>
<td class="n">{{ acknowledged }}</td></tr>
<tr><td>Thời gian đến khi đóng</td>
<td>{{ close_median }}</td>
<td>{{ close_p90 }}</td>
<td class="n">{{ closed }}</td></tr></table>
<p class="note">Tính từ khi cảnh báo được tạo đến lần thay đổi trạng thái đầu tiên (xác nhận) và đến khi đóng;
{{ timed - acknowledged }} cảnh báo chưa được xác nhận, {{ timed - closed }} cảnh báo chưa đóng.
{% if capped %}Chỉ tính trên {{ timed }} cảnh báo mới nhất của kỳ.{% endif %}</p>

<h2>6. Nguồn log ngừng gửi</h2>
{% if silent %}<table class="data"><tr><th>Nguồn / máy</th>
<th>Đơn vị</th>
<th>Ngừng từ</th>
<th>Gửi lại lúc</th></tr>
{% for s in silent %}<tr><td>{{ s.what }}</td>
<td>{{ s.agency }}</td>
<td>{{ s.since }}</td>
<td>{{ s.cleared }}</td></tr>
{% endfor %}
</table>
{% if silent_total > silent|length %}
<p class="note">và {{ silent_total - silent|length }} trường hợp khác.</p>{% endif %}
{% else %}<p>Không có nguồn log nào ngừng gửi trong kỳ.</p>{% endif %}

<h2>7. Thiếu loại log bắt buộc theo cấp độ</h2>
{% if gaps %}<table class="data"><tr><th>Hệ thống</th>
<th>Loại log</th>
<th>Đơn vị</th>
<th>Thiếu từ</th>
<th>Có lại lúc</th></tr>
{% for g in gaps %}<tr><td>{{ g.system }}</td>
<td>{{ g.category }}</td>
<td>{{ g.agency }}</td>
<td>{{ g.since }}</td>
<td>{{ g.cleared }}</td></tr>
{% endfor %}
</table>
{% if gaps_total > gaps|length %}<p class="note">và {{ gaps_total - gaps|length }} trường hợp khác.</p>{% endif %}
{% else %}<p>Không có cảnh báo thiếu loại log bắt buộc trong kỳ.</p>{% endif %}
<p class="note">Lấy từ các cảnh báo “thiếu loại log” (canhgac-coverage-missing) của chức năng theo dõi
tuân thủ theo cấp độ, còn mở trong kỳ.</p>
</body></html>
"""
_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(HTML)


def render_html(context: dict[str, Any]) -> str:
    return _HTML.render(**context)


def render_pdf(context: dict[str, Any]) -> bytes:
    from weasyprint import HTML as WeasyHTML  # type: ignore[import-untyped]

    pdf: bytes = WeasyHTML(string=render_html(context)).write_pdf()
    return pdf
