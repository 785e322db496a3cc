"""A whole round end to end: the demo, its outputs, reruns, and what the clerk sees."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest

from tests.office import SOFFICE, convert
from toolkit.merge import output_names, run_merge
from toolkit.standing import UnitState
from toolkit.workspace import Workspace

# Percentages the seed report (三门峡, May 2021) prints, and where the demo must reproduce them.
SEED = [
    ("1-2-1", "市科技局", "完成率", "42.14"),  # 科技型中小企业备案
    ("2-1-1", "市发展改革委", "完成率", "95.48"),  # 开（复）工率
    ("2-1-2", "市发展改革委", "完成率", "47.82"),  # 累计完成投资
    ("2-3-1", "市行政审批服务局", "完成率", "85.50"),  # 办结率
    ("3-1-2", "市工业和信息化局", "完成率", "28.2"),  # 三大改造 完成投资
    ("4-4-1", "合计", "完成率", "65"),  # 人工造林, several counties
    ("4-4-2", "市林业局", "完成率", "109.9"),  # 上级下达人工造林任务
    ("6-3-1", "市农业农村局", "完成率", "85.39"),  # 衔接项目开工率
    ("6-3-2", "市农业农村局", "完成率", "23.86"),  # 衔接资金支付率
    ("6-3-3", "市农业农村局", "完成率", "80.43"),  # 产业项目开工率
    ("6-3-4", "市农业农村局", "完成率", "16.92"),  # 产业项目支付率
    ("7-1-1", "市交通运输局", "完成率", "70"),  # 公铁桥
    ("7-1-2", "市交通运输局", "完成率", "24.3"),  # 卢洛高速
    ("7-1-3", "市交通运输局", "完成率", "12.93"),  # 国道209
    ("7-2-1", "灵宝市人民政府", "完成率", "72"),  # 灵宝市现代农业产业园
    ("10-2-1", "市人力资源社会保障局", "完成率", "38.5"),  # 城镇新增就业 at one place
    ("10-2-3", "市人力资源社会保障局", "完成率", "50.01"),  # 农村转移劳动力
    ("10-2-4", "市人力资源社会保障局", "完成率", "29.03"),  # 返乡创业
    ("10-5-1", "市公安局", "同比", "55.26"),  # 电信网络诈骗案件
    ("10-5-2", "市公安局", "同比", "264.35"),  # 抓获犯罪嫌疑人
]


def read_results(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def results(demo):
    return read_results(demo.result.outputs["csv"])


def test_demo_writes_every_output(demo):
    names = output_names("2021-04")
    for key, name in names.items():
        path = demo.result.outputs[key]
        assert path.name == name and path.stat().st_size > 0


@pytest.mark.parametrize("code,unit,column,expected", SEED, ids=[f"{c}-{u}" for c, u, _, _ in SEED])
def test_demo_reproduces_seed_percentages(results, code, unit, column, expected):
    row = next(r for r in results if r["指标编号"] == code and r["单位名称"] == unit)
    assert row[column] == expected


def test_results_csv_contract(results, demo):
    with open(demo.result.outputs["csv"], "rb") as fh:
        assert fh.read(3) == b"\xef\xbb\xbf"
    assert list(results[0]) == ["轮次", "类别", "任务编号", "指标编号", "指标名称", "单位名称", "计量单位", "年度目标",
                                "本期完成", "基数", "上年同期", "完成率", "序时进度", "差距", "同比", "状态"]
    statuses = {r["状态"] for r in results}
    assert statuses <= {"已完成", "序时推进", "滞后", "达标", "未达标", "逾期", "推进中", "未启动", "未报送", "待更正"}
    # the demo shows the statuses a clerk meets in a real round
    assert {"序时推进", "滞后", "逾期", "未报送", "待更正", "已完成", "达标", "未达标"} <= statuses
    assert all(r["序时进度"] == "33.33" for r in results if r["序时进度"])


def test_demo_round_story(demo):
    result = demo.result
    assert result.names_in(UnitState.LATE) == ["市交通运输局", "市商务局"]
    assert result.names_in(UnitState.MISSING) == ["市城市管理局"]
    with_errors = {s.unit for s in result.submissions if s.accepted and s.errors and not s.superseded}
    assert with_errors == {"市住房城乡建设局", "市文化广电和旅游局", "市农业农村局"}
    superseded = [s for s in result.submissions if s.superseded]
    assert [s.unit for s in superseded] == ["市科技局"]
    # both of 市科技局's files are archived, unchanged
    archived = {s.archived.name for s in result.submissions if s.unit == "市科技局"}
    assert len(archived) == 2
    for s in result.submissions:
        if s.archived:
            assert s.archived.read_bytes() == s.path.read_bytes()


def test_faulty_rows_are_pending_correction(results):
    pending = {(r["指标编号"], r["单位名称"]) for r in results if r["状态"] == "待更正"}
    assert len(pending) == 3
    assert all(r["本期完成"] == "" for r in results if r["状态"] == "待更正")


def test_report_reads_like_the_seed(demo):
    doc = docx.Document(str(demo.result.outputs["report"]))
    text = [p.text for p in doc.paragraphs]
    assert text[0].startswith("三门峡市政府督查室") and "2021年5月13日" in text[0]
    assert "《市政府工作报告》重点工作进展情况报告" in text
    assert any(t.startswith("一、深入实施创新驱动发展战略，") for t in text)
    assert any(t.startswith("十、切实保障改善民生") for t in text)
    body = "\n".join(text)
    assert "科技型中小企业已备案59家，完成全年目标任务的42.14%" in body
    assert "办结率85.50%" in body
    assert "共分10大类" in body and "未报送1个" in body
    # who reported when is 附件2; what lags is 附件1, each with its lead unit
    units = {row.cells[1].text: row.cells[2].text for row in doc.tables[1].rows[1:]}
    assert [u for u, state in units.items() if state == "逾期报送"] == ["市交通运输局", "市商务局"]
    assert [u for u, state in units.items() if state == "未报送"] == ["市城市管理局"]
    assert "市交通运输局" in [row.cells[6].text for row in doc.tables[0].rows[1:]]


def test_rerun_gives_the_same_results(demo, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    again = run_merge(Workspace(copy), "2021-04", now=datetime(2021, 5, 13, 9))
    assert read_results(again.outputs["csv"]) == read_results(demo.result.outputs["csv"])
    archived = sorted(p.name for p in (copy / "rounds" / "2021-04" / "archive").iterdir())
    assert archived == sorted(p.name for p in (demo.folder / "rounds" / "2021-04" / "archive").iterdir())


def test_feedback_for_faulty_returns(demo):
    folder = demo.folder / "rounds" / "2021-04" / "feedback"
    marked = sorted(folder.glob("*_问题反馈.xlsx"))
    units = {"市住房城乡建设局", "市文化广电和旅游局", "市农业农村局"}
    for unit in units:
        assert any(unit in p.name for p in marked), unit
    for path in marked:
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames[0] == "问题清单"
        comments = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.comment]
        assert comments, path.name
    # a reply goes out for what the departments must still act on; the draft 市科技局 replaced
    # with its corrected file leaves nothing pending (no reply, pending false in the index)
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    pending = {e["unit"] for e in index if e["pending"]}
    assert pending == units
    for e in index:
        reply = folder / f"{Path(e['file']).stem}_回复.txt"
        assert reply.exists() == e["pending"], e
        if e["pending"]:
            assert reply.read_text(encoding="utf-8").startswith("主题：【待更正】") and e["reply"] == reply.name
    draft = next(e for e in index if e["unit"] == "市科技局")
    assert draft["fate"] == "已被替代" and not draft["pending"]


@pytest.mark.skipif(not SOFFICE, reason="LibreOffice is not installed")
def test_every_output_opens_in_libreoffice(demo, tmp_path):
    out = demo.result.outputs
    xlsx = [out["summary"], out["ledger"], out["check"]]
    csvs = convert(xlsx, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "csv", tmp_path / "profile")
    for path in csvs:
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) > 3
    pdf = convert([out["report"]], "pdf", tmp_path / "pdf", tmp_path / "profile")[0]
    assert pdf.stat().st_size > 10_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "重点工作进展情况报告" in text and "42.14%" in text


@pytest.mark.skipif(not SOFFICE, reason="LibreOffice is not installed")
def test_feedback_comments_survive_libreoffice(demo, tmp_path):
    folder = demo.folder / "rounds" / "2021-04" / "feedback"
    marked = sorted(folder.glob("*_问题反馈.xlsx"))
    resaved = convert(marked, "xlsx", tmp_path / "re", tmp_path / "profile")
    for path in resaved:
        wb = openpyxl.load_workbook(path)
        comments = [c.comment.text for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.comment]
        assert any("E2" in t or "W3" in t for t in comments), path.name


def test_merge_exit_code_and_chinese_summary(demo, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    proc = subprocess.run([sys.executable, "-m", "toolkit", "merge", "-w", str(copy), "-r", "2021-04",
                           "--now", "2021-05-13 09:00"], capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 1, proc.stderr  # done, but some returns had errors
    assert "未报送：市城市管理局" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("now,expected", [
    (datetime(2021, 5, 6, 9), "2021-05-08"),  # before the deadline: the deadline
    (datetime(2021, 5, 13, 9), "2021-05-17"),  # Thursday after it: two working days, over the weekend
    (datetime(2021, 5, 10, 9), "2021-05-12"),
])
def test_correction_deadline(demo, now, expected):
    from toolkit.merge import correction_deadline

    assert correction_deadline(demo.result.round, now).isoformat() == expected


def test_reply_text_is_signed_by_the_office_with_a_future_deadline(demo):
    folder = demo.folder / "rounds" / "2021-04" / "feedback"
    reply = next(folder.glob("*市文化广电和旅游局*_回复.txt")).read_text(encoding="utf-8")
    assert reply.rstrip().endswith("三门峡市政府督查室")
    assert "5月17日" in reply and "5月8日前" not in reply
