"""The bundled DOCX template of the incident notice (a docxtpl/Jinja template built with python-docx).

`deploy/templates/incident-report.docx` is this function's output (`python scripts/make_incident_template.py`),
committed so an operator can open it in Word or LibreOffice, change the wording, layout or letterhead,
and point `cases.report.template_file` at the edited copy. The tags it may use are the keys of
`canhgac.api.cases.report.report_context` (docs/cases.md lists them). Without a configured file the
API builds this template in memory, so a wheel needs no data file.
"""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docx.text.paragraph import Paragraph

FONT = "Times New Roman"  # the font of Vietnamese administrative documents (Decree 30/2020)

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "1. Đơn vị báo cáo",
        (
            "Tên đơn vị: {{ reporting_unit }}",
            "Cơ quan chủ quản: {{ governing_body }}",
            "Địa chỉ: {{ address }}",
        ),
    ),
    (
        "2. Hệ thống thông tin bị sự cố",
        (
            "Tên hệ thống: {{ system_name }}",
            "Cấp độ an toàn hệ thống thông tin: {{ system_level }}",
            "Đơn vị vận hành, sử dụng: {{ agencies }}",
        ),
    ),
    (
        "3. Thời gian phát hiện sự cố",
        ("{{ detected_at }}",),
    ),
    (
        "4. Mô tả sự cố",
        (
            "Tên sự cố: {{ title }}",
            "Mức độ nghiêm trọng: {{ severity }}",
            "{{ description }}",
            "Các cảnh báo liên quan ({{ alert_count }}):",
        ),
    ),
)


def _paragraph(
    doc: DocxDocument, text: str, *, bold: bool = False, italic: bool = False, center: bool = False, size: int = 13
) -> Paragraph:
    paragraph = doc.add_paragraph()
    run = paragraph.add_run(text)
    run.bold = bold
    run.italic = italic
    run.font.name = FONT
    run.font.size = Pt(size)
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return paragraph


def _list(doc: DocxDocument, variable: str, item: str = "- {{ item }}") -> None:
    """A paragraph per element of `variable` (docxtpl's paragraph-level `{%p %}` tags)."""
    _paragraph(doc, f"{{%p for item in {variable} %}}")
    _paragraph(doc, item)
    _paragraph(doc, "{%p endfor %}")


def build_template() -> bytes:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)

    header = doc.add_table(rows=2, cols=2)
    header.cell(0, 0).text = "{{ governing_body }}\n{{ reporting_unit }}"
    header.cell(0, 1).text = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"
    header.cell(1, 0).text = "Số: ........../BC"
    header.cell(1, 1).text = "{{ place_date }}"
    for row in header.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER

    _paragraph(doc, "BÁO CÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG", bold=True, center=True, size=14)
    _paragraph(
        doc,
        "(Thông báo sự cố theo Thông tư số 20/2017/TT-BTTTT ngày 12/9/2017 của Bộ Thông tin và Truyền thông "
        "quy định về điều phối, ứng cứu sự cố an toàn thông tin mạng trên toàn quốc)",
        italic=True,
        center=True,
        size=12,
    )
    _paragraph(doc, "Kính gửi:", bold=True)
    _list(doc, "recipients")

    for heading, lines in SECTIONS:
        _paragraph(doc, heading, bold=True)
        for line in lines:
            _paragraph(doc, line)
    _list(doc, "alerts")
    _paragraph(doc, "5. Dấu hiệu, đối tượng liên quan (địa chỉ IP, tài khoản, máy chủ, mã băm, URL)", bold=True)
    _list(doc, "observables")
    _paragraph(doc, "Kết quả tìm kiếm đính kèm ({{ attachment_count }}):")
    _list(doc, "attachment_lines", "{{ item }}")
    _paragraph(doc, "6. Ảnh hưởng, thiệt hại", bold=True)
    _paragraph(doc, "{{ impact }}")
    _paragraph(doc, "7. Các biện pháp đã áp dụng", bold=True)
    _paragraph(doc, "{{ measures }}")
    _list(doc, "tasks_done")
    _paragraph(doc, "8. Tình trạng xử lý", bold=True)
    _paragraph(doc, "Trạng thái: {{ status }}")
    _list(doc, "status_history")
    _paragraph(doc, "9. Thông tin liên hệ", bold=True)
    _paragraph(doc, "Người liên hệ: {{ contact_name }} - {{ contact_role }}")
    _paragraph(doc, "Điện thoại: {{ contact_phone }}; Thư điện tử: {{ contact_email }}")
    _paragraph(doc, "")
    _paragraph(
        doc,
        "Hạn thông báo: {{ report_due }} (chậm nhất {{ deadline_days }} ngày kể từ khi phát hiện sự cố). "
        "Mã sự cố trên hệ thống Canhgac: {{ case_id }}.",
        italic=True,
        size=11,
    )
    _paragraph(doc, "ĐẠI DIỆN ĐƠN VỊ BÁO CÁO", bold=True, center=True)
    _paragraph(doc, "(Ký, ghi rõ họ tên, đóng dấu)", italic=True, center=True, size=12)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
