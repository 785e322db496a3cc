"""Every real-world and hostile spreadsheet of ../shared/corpus through `ducha check`.

Each file must end with exit code 0 or 1 and a Chinese message, never a
traceback, within 5 s, in a process capped at 1 GiB of address space.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md") if CORPUS.is_dir() else []
SECONDS = 5.0
MEMORY = 1 << 30

DRIVER = r"""
import contextlib, io, json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (%(memory)d, %(memory)d))
from toolkit.cli import main
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["check", path])
        except SystemExit as exc:
            code = exc.code
    print(json.dumps({"file": path, "code": code, "seconds": time.monotonic() - started,
                      "output": out.getvalue() + err.getvalue()}, ensure_ascii=False), flush=True)
"""

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not beside the repository")


@pytest.fixture(scope="module")
def checked() -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-c", DRIVER % {"memory": MEMORY}, *map(str, FILES)],
                          capture_output=True, text=True, encoding="utf-8", timeout=900, cwd=ROOT)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            results[item["file"]] = item
    assert len(results) == len(FILES), f"the driver stopped early: {proc.stderr[-2000:]}"
    return results


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_ducha_check_never_crashes(checked, path):
    item = checked[str(path)]
    assert item["code"] in (0, 1), item["output"]
    assert "Traceback" not in item["output"] and "程序内部错误" not in item["output"]
    assert item["seconds"] < SECONDS
    if item["code"] == 1:
        # a rejection says why, in Chinese
        assert any("\u4e00" <= ch <= "\u9fff" for ch in item["output"])
        assert "拒收" in item["output"] or "错误" in item["output"]
