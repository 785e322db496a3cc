"""Every file of the shared robustness corpus goes through the reader.

For each file the reader returns a Workbook or raises ReadError with a Chinese
reason — never another exception — within 5 seconds. One more test reads the
whole corpus in a subprocess capped at 1 GiB of address space.
The corpus lives next to the repository (../shared/corpus, see its README.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from toolkit.errors import ReadError
from toolkit.findings import Code, make
from toolkit.read import Workbook, read_workbook

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"
REPO = Path(__file__).parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
BUDGET_SECONDS = 5.0
MEMORY_CAP = 1024 * 1024 * 1024

if not CORPUS.is_dir():
    pytest.skip(f"robustness corpus not found at {CORPUS} (it is kept outside the repository)",
                allow_module_level=True)

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def _id(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_corpus_file(path):
    start = time.monotonic()
    try:
        book = read_workbook(path)
    except ReadError as err:
        assert isinstance(err.code, Code) and err.code.name.startswith("F1")
        assert err.detail, "a refusal must say why"
        if err.code is not Code.F109:  # F109's detail is the number of seconds, by its template
            assert CJK.search(err.detail), f"detail is not Chinese: {err.detail!r}"
        message = make(err.code, file=path.name, sheet=err.sheet, detail=err.detail).message
        assert CJK.search(message) and "{" not in message
    else:
        assert isinstance(book, Workbook)
        assert book.format in ("xlsx", "xls", "ods", "xlsb")
    elapsed = time.monotonic() - start
    assert elapsed < BUDGET_SECONDS, f"{_id(path)} took {elapsed:.2f} s"


# What the hostile and broken files of the corpus must come to (docs/hostile-inputs.md).
EXPECTED = {
    "public/php_dontuse/2x6m.xlsx": Code.F108,
    "public/php_dontuse/ebcdic.xlsx": Code.F107,
    "public/php_dontuse/utf16entity.xlsx": Code.F107,
    "public/php_dontuse/utf7quoteorder.xlsx": Code.F107,
    "public/php_dontuse/utf7white.xlsx": Code.F107,
    "public/php_dontuse/utf8and16.entity.xlsx": Code.F107,
    "public/php_dontuse/utf8and16.xlsx": Code.F107,
    "public/php_dontuse/utf8entity.xlsx": Code.F107,
    "public/excelize/test/encryptAES.xlsx": Code.F103,
    "public/excelize/test/encryptSHA1.xlsx": Code.F103,
    "public/excelize/test/encryptSHA512.xlsx": Code.F103,
    "public/calamine/tests/pass_protected.xlsx": Code.F103,
    "public/calamine/tests/pass_protected.xlsb": Code.F103,
    "public/calamine/tests/pass_protected.ods": Code.F103,
    "public/calamine/tests/issue_385.xls": Code.F103,
    "public/python-calamine/tests/data/password.xls": Code.F103,
    "public/python-calamine/tests/data/password.xlsx": Code.F103,
    "public/python-calamine/tests/data/password.xlsb": Code.F103,
    "public/python-calamine/tests/data/password.ods": Code.F103,
    "public/openpyxl/openpyxl/reader/tests/data/null_file.xlsx": Code.F104,
    "public/python-calamine/tests/data/empty_file.xlsx": Code.F104,
    "public/python-calamine/tests/data/empty_file.ods": Code.F104,
    "public/python-calamine/tests/data/empty_file.xlsb": Code.F104,
    "public/calamine/tests/issue252.xlsx": Code.F104,
    "public/calamine/tests/too_small.xls": Code.F102,
    "public/calamine/tests/OOM_alloc3.xls": Code.F101,
    "public/calamine/tests/issue_594_dos.ods": Code.F101,
    "public/sheetjs/artifacts/quattro/write_57.xls": Code.F101,
    "public/excelize/test/BadWorkbook.xlsx": Code.F101,
    # read, not refused: hostile in name only, or odd packaging that Excel opens
    "public/calamine/tests/OOM_alloc.xls": None,
    "public/calamine/tests/OOM_alloc2.xls": None,
    "public/php_dontuse/sec-j47r.xlsx": None,
    "public/php_dontuse/sec-p66w.xlsx": None,
    "public/php_dontuse/sec-q229.xlsx": None,
    "public/php_dontuse/urlImage.bad.xlsx": None,
    "public/calamine/tests/issue_530.xlsx": None,
    "public/calamine/tests/minimal_package.xlsx": None,
    "public/calamine/tests/strict_iso_paths.xlsx": None,
}


@pytest.mark.parametrize("rel, code", sorted(EXPECTED.items(), key=lambda kv: kv[0]),
                         ids=[k for k in sorted(EXPECTED)])
def test_corpus_outcome(rel, code):
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{rel} not in this copy of the corpus")
    if code is None:
        assert read_workbook(path).sheets
        return
    with pytest.raises(ReadError) as info:
        read_workbook(path)
    assert info.value.code is code, info.value.detail


SCRIPT = textwrap.dedent("""
    import resource, sys, time
    from pathlib import Path
    cap = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.path.insert(0, sys.argv[3])
    from toolkit.errors import ReadError
    from toolkit.read import read_workbook
    files = sorted(p for p in Path(sys.argv[1]).rglob("*") if p.is_file())
    read = refused = 0
    for path in files:
        try:
            read_workbook(path)
            read += 1
        except ReadError:
            refused += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"done {len(files)} read={read} refused={refused} peak_rss_mb={peak}")
""")


def test_whole_corpus_within_one_gib():
    if sys.platform != "linux":
        pytest.skip("RLIMIT_AS is only enforced on Linux")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(CORPUS), str(MEMORY_CAP), str(REPO)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"done {len(FILES)} "), result.stdout + result.stderr[-2000:]
    assert time.monotonic() - start < 120
