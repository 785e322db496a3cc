"""Returns re-saved by LibreOffice as xlsx, ods and xls merge to the same results as the originals."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from tests.office import SOFFICE, convert
from toolkit.demo import deliver
from toolkit.merge import run_merge
from toolkit.receipts import receipt_list, withdraw
from toolkit.workspace import Workspace

pytestmark = pytest.mark.skipif(not SOFFICE, reason="LibreOffice is not installed")

FORMATS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "ods": "ods",
    "xls": "xls:MS Excel 97",
}


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_libreoffice_resaved_returns_merge_identically(demo, tmp_path, fmt):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    ws = Workspace(copy)
    inbox = copy / "rounds" / "2021-04" / "inbox"
    originals = sorted(p for p in inbox.iterdir() if p.suffix == ".xlsx")  # saved mails stay as they are
    arrived = {Path(r.original_name).stem: r.arrival for r in receipt_list(ws, "2021-04")}
    converted = convert(originals, FORMATS[fmt], tmp_path / "converted", tmp_path / "profile")
    for p in originals:  # the department replaces its file: the old one is withdrawn, explicitly
        withdraw(ws, "2021-04", p.name, reason="以另存的文件替代")
        p.unlink()
    for p in converted:
        target = inbox / p.name
        shutil.move(p, target)
        deliver(ws, "2021-04", target, arrived[p.stem])
    result = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    rejected = [(s.file, s.reason) for s in result.submissions if not s.accepted and not s.withdrawn]
    assert not rejected
    assert csv_rows(result.outputs["csv"]) == csv_rows(demo.result.outputs["csv"])
