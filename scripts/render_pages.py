"""Render a round's report and summary (or any docx/xlsx) to page images, to look at them.

    python scripts/render_pages.py -w 工作区 -r 2021-04            # the round's report and summary
    python scripts/render_pages.py 进展情况报告_2021-04.docx --pages 1-2
    python scripts/render_pages.py -w ducha-demo --pages 1 --small --out /tmp/pages   # the README's images

Each file goes through LibreOffice headless (with a private profile, so an open
LibreOffice window is not disturbed) to PDF, then through pdftoppm to one PNG per page:
``<name>_p<N>.png`` beside ``<name>.pdf`` in ``--out`` (default ``./ducha-pages``). The
paths are printed. Needs LibreOffice (soffice) and poppler-utils (pdftoppm, pdfinfo).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # also works without installing

from toolkit.errors import DuchaError  # noqa: E402

#: Where LibreOffice lives when it is not on PATH.
SOFFICE_PLACES = (
    r"C:\Program Files\LibreOffice\program\soffice.exe",
    r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)
SUFFIXES = (".docx", ".xlsx", ".doc", ".xls", ".odt", ".ods")
TIMEOUT = 300  # seconds for one LibreOffice conversion


class RenderError(DuchaError):
    """A tool is missing or a file could not be rendered."""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    found = found or next((p for p in SOFFICE_PLACES if Path(p).is_file()), None)
    if not found:
        raise RenderError("找不到 LibreOffice（soffice）。请先安装 LibreOffice，再运行本脚本。")
    return found


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RenderError(f"找不到 {name}。请安装 poppler-utils（Windows 可用 poppler 的发行包并加入 PATH）。")
    return found


#: Fonts the report and the summary name (GB/T 9704 and the summary's 宋体), and what to draw
#: them with when they are not installed: fontconfig otherwise falls back to any sans font,
#: often with Japanese glyph forms. An accepted family only follows the named one, so an
#: installed 仿宋_GB2312 still wins.
STAND_INS = {
    "Noto Serif CJK SC": ("仿宋_GB2312", "仿宋", "FangSong", "楷体_GB2312", "楷体", "KaiTi", "方正小标宋简体", "华文中宋",
                          "宋体", "SimSun", "NSimSun"),
    "Noto Sans CJK SC": ("黑体", "SimHei", "微软雅黑", "Microsoft YaHei", "等线", "DengXian"),
}


def _fontconfig(folder: Path) -> dict[str, str]:
    """The environment for LibreOffice: a fontconfig file adding :data:`STAND_INS` (not on Windows)."""
    env = dict(os.environ)
    system = Path("/etc/fonts/fonts.conf")
    if os.name == "nt" or not system.is_file():
        return env
    aliases = "".join(f"<alias binding=\"same\"><family>{name}</family><accept><family>{stand_in}</family></accept></alias>"
                      for stand_in, names in STAND_INS.items() for name in names)
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    f"<fontconfig><include>{system}</include>{aliases}</fontconfig>\n", encoding="utf-8")
    env["FONTCONFIG_FILE"] = str(conf)
    return env


def to_pdf(files: list[Path], outdir: Path) -> list[Path]:
    """Each file converted to ``outdir/<stem>.pdf`` by LibreOffice headless with a private profile."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ducha-lo-") as profile:
        cmd = [soffice(), f"-env:UserInstallation={(Path(profile) / 'user').as_uri()}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", str(outdir), *map(str, files)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=_fontconfig(Path(profile)))
        except subprocess.TimeoutExpired:
            raise RenderError(f"LibreOffice 转换超过 {TIMEOUT} 秒仍未完成，请关闭其他 LibreOffice 窗口后重试。") from None
    pdfs = [outdir / f"{f.stem}.pdf" for f in files]
    missing = [f.name for f, pdf in zip(files, pdfs, strict=True) if not pdf.is_file()]
    if missing:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise RenderError(f"LibreOffice 未能转换：{'、'.join(missing)}。{detail[0]}")
    return pdfs


def page_count(pdf: Path) -> int:
    out = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"^Pages:\s+(\d+)", out, re.M)
    if not match:
        raise RenderError(f"无法读取 {pdf.name} 的页数。")
    return int(match.group(1))


def parse_pages(text: str | None, count: int) -> list[int]:
    """``"1"``, ``"1-3"``, ``"1,4-5"`` → page numbers within 1..count; None → every page."""
    if not text:
        return list(range(1, count + 1))
    pages: list[int] = []
    for part in text.replace("，", ",").split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise RenderError(f"--pages “{text}”看不懂。请写成 1、1-3 或 1,4-5。")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        pages.extend(p for p in range(first, last + 1) if 1 <= p <= count and p not in pages)
    return pages


def to_png(pdf: Path, pages: list[int], dpi: int, small: bool = False) -> list[Path]:
    """One ``<stem>_p<N>.png`` per page, beside the PDF; ``small``: 256 colours (for docs/)."""
    out = []
    for page in pages:
        prefix = pdf.with_name(f"{pdf.stem}_p{page}")
        subprocess.run([_tool("pdftoppm"), "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                        str(pdf), str(prefix)], check=True, capture_output=True, timeout=120)
        png = prefix.with_suffix(".png")
        if small:
            from PIL import Image  # comes with matplotlib

            with Image.open(png) as image:
                reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
            reduced.save(png, optimize=True)
        out.append(png)
    return out


def round_files(workspace: Path | None, round_name: str | None) -> list[Path]:
    """The report and the summary of a merged round."""
    from toolkit.merge import output_names
    from toolkit.workspace import Workspace, find_workspace

    ws = Workspace(workspace or find_workspace())
    rnd = ws.pick_round(ws.registry(), round_name)
    names = output_names(rnd.name)
    files = [ws.output(rnd.name) / names["report"], ws.output(rnd.name) / names["summary"]]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise RenderError(f"轮次 {rnd.name} 还没有 {'、'.join(missing)}。请先运行 ducha merge -w {ws.root} -r {rnd.name}。")
    return files


def render(files: list[Path], outdir: Path, pages: str | None = None, dpi: int = 100,
           small: bool = False) -> dict[Path, list[Path]]:
    """PDF and page images of every file: {pdf: [png, …]}."""
    for f in files:
        if not f.is_file():
            raise RenderError(f"文件不存在：{f}")
        if f.suffix.lower() not in SUFFIXES:
            raise RenderError(f"{f.name} 不是 Word 或 Excel 文件（可用：{'、'.join(SUFFIXES)}）。")
    result = {}
    for pdf in to_pdf(files, outdir):
        result[pdf] = to_png(pdf, parse_pages(pages, page_count(pdf)), dpi, small)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="把报告和汇总表（或任意 docx/xlsx）经 LibreOffice 渲染成 PDF 和逐页图片，便于查看版式。")
    parser.add_argument("files", nargs="*", type=Path, help="要渲染的文件；不给时渲染工作区某一轮的进展情况报告和汇总表")
    parser.add_argument("-w", "--workspace", type=Path, default=None, help="工作区文件夹（默认当前文件夹）")
    parser.add_argument("-r", "--round", default=None, help="轮次（默认统计截止日期已过的最近一轮）")
    parser.add_argument("--out", type=Path, default=Path("ducha-pages"), help="输出文件夹（默认 ./ducha-pages）")
    parser.add_argument("--pages", default=None, help="只渲染这些页，如 1、1-3、1,4-5（默认全部）")
    parser.add_argument("--dpi", type=int, default=100, help="图片分辨率（默认 100）")
    parser.add_argument("--small", action="store_true", help="图片压缩为 256 色（放进文档时用）")
    args = parser.parse_args(argv)
    try:
        files = [f.resolve() for f in args.files] or round_files(args.workspace, args.round)
        done = render(files, args.out.resolve(), args.pages, args.dpi, args.small)
    except (DuchaError, OSError, subprocess.CalledProcessError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    for pdf, pngs in done.items():
        print(f"已生成：{pdf}")
        for png in pngs:
            print(f"  {os.path.relpath(png, pdf.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
