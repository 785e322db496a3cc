"""Generate docs/codes.md (the table of finding codes) from toolkit.findings.catalogue().

    python scripts/gen_codes_doc.py          # (re)write docs/codes.md
    python scripts/gen_codes_doc.py --check  # exit 1 when docs/codes.md is out of date

tests/test_docs.py keeps the committed file equal to what this script generates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolkit.findings import Level, catalogue  # noqa: E402

TARGET = ROOT / "docs" / "codes.md"
LEVEL_MEANING = {
    Level.REJECT.value: "整个文件不予接受，须重新报送",
    Level.ERROR.value: "该行数据不计入合并，各输出中显示“待更正”",
    Level.NOTICE.value: "数据照常合并，只提醒督查室核对",
}
PLACEHOLDERS = {
    "{value}": "［填写的内容］",
    "{detail}": "［具体情况］",
    "{column}": "［列名］",
    "{sheet}": "［工作表名］",
}


def _cell(text: str) -> str:
    """Table-safe text: placeholders in words, pipes escaped, no line breaks."""
    for key, word in PLACEHOLDERS.items():
        text = text.replace(key, word)
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    lines = [
        "# 校验问题代码表",
        "",
        "> 本文件由 `python scripts/gen_codes_doc.py` 根据 `toolkit/findings.py` 自动生成，请勿手工修改。",
        "",
        "每个问题都有固定的代码。校验报告、反馈文件和 `ducha check` 的输出都会写明文件、工作表、单元格、代码和说明。",
        "说明中方括号［］里的文字在实际提示中会换成具体内容，例如“［列名］”会写成“本期完成”。",
        "",
        "级别的含义：",
        "",
    ]
    lines += [f"- **{level}**：{meaning}。" for level, meaning in LEVEL_MEANING.items()]
    lines += ["", "| 代码 | 级别 | 说明 | 处理办法 |", "|---|---|---|---|"]
    for row in catalogue():
        lines.append(f"| {row['代码']} | {row['级别']} | {_cell(row['说明'])} | {_cell(row['处理办法'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="根据 toolkit/findings.py 生成 docs/codes.md")
    parser.add_argument("--check", action="store_true", help="只检查 docs/codes.md 是否为最新，不写文件")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} 不是最新的，请运行 python scripts/gen_codes_doc.py", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with open(TARGET, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print(f"已生成 {TARGET}（{len(catalogue())} 个代码）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
