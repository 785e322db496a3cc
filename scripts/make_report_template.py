"""Write the editable Word report template to templates/report.docx and toolkit/assets/report.docx.

Run from anywhere: ``python scripts/make_report_template.py``. The clerk may then open
templates/report.docx in Word or WPS and change the styles 标题/正文/一级标题/二级标题,
the page setup or the footer; every report is built on that file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.report import build_template  # noqa: E402

TARGETS = (ROOT / "templates" / "report.docx", ROOT / "toolkit" / "assets" / "report.docx")


def main() -> int:
    for target in TARGETS:
        build_template(target)
        print(f"已生成报告模板：{target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
