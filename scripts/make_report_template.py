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


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="生成可编辑的 Word 报告模板")
    parser.add_argument("--out", type=Path, default=None, help="写到该文件夹（默认写入仓库的两个位置）")
    args = parser.parse_args(argv)
    targets = (args.out / "report.docx",) if args.out else TARGETS
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        build_template(target)
        print(f"已生成报告模板：{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
