"""Write the bundled incident-notice template to deploy/templates/incident-report.docx.

    .venv/bin/python scripts/make_incident_template.py [OUTPUT]

The template's source is canhgac/api/cases/report_template.py (api/cases/ in the checkout);
run this after changing it and commit both. Operators edit a copy of the output and point
`cases.report.template_file` at it (docs/cases.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from canhgac.api.cases.report_template import build_template

DEFAULT = Path(__file__).resolve().parent.parent / "deploy" / "templates" / "incident-report.docx"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(build_template())
    print(out)


if __name__ == "__main__":
    main()
