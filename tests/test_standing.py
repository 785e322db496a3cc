"""One set of facts (issue 7): the report, the summary and the terminal say the same thing.

A generated round holds every status of the vocabulary at once; the demo round is the
real-looking one. Both are merged by the real merge and read back from the files.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from docx import Document

from tests.factories import DEFAULT_INDICATORS, SHEET1, SHEET2, indicator_row, make_return, make_workspace
from toolkit.cli import main
from toolkit.demo import deliver
from toolkit.merge import run_merge
from toolkit.model import STATUSES, Status
from toolkit.render import merge_summary
from toolkit.standing import GROUPS, Fate, UnitState

ROUND = "2021-04"
NOW = datetime(2021, 5, 13, 9, 0)
EXTRA = [
    indicator_row(SHEET1, "", "", "", "1-2-3", "建成创新综合体", "节点", "", None, due="年底"),
    indicator_row(SHEET2, "2-5", "推进城乡融合", "卢氏县人民政府", "2-5-1", "新建农村公路", "累计", "公里", 120),
]


def drop(ws, path, when=datetime(2021, 5, 7, 10, 0)):
    target = ws.inbox(ROUND) / path.name
    path.replace(target)
    deliver(ws, ROUND, target, when)
    return target


@pytest.fixture(scope="module")
def every_status(tmp_path_factory):
    """A round with each of the ten statuses at least once (and a late and a missing unit)."""
    tmp = tmp_path_factory.mktemp("every")
    ws = make_workspace(tmp, indicators=DEFAULT_INDICATORS + EXTRA)
    drop(ws, make_return(ws, tmp / "in", unit="市科技局", values={
        "1-1-1": {"本期完成": 150},  # 已完成
        "1-1-2": {"本期完成": 10000},  # 20% of 50000: 滞后
        "1-2-1": {"完成状态": "推进中"},  # 推进中
        "1-2-2": {"完成状态": "推进中"},  # due 3月底: 逾期
        "1-2-3": {"完成状态": "未启动"},  # 未启动
    }))
    drop(ws, make_return(ws, tmp / "in", unit="市发展改革委", values={
        "2-1-1": {"本期完成": 90, "基数": 100},  # 90% of 95%: 未达标
        "2-1-2": {"本期完成": 3.4},  # 达标
        "2-1-3": {"本期完成": "约95", "进展情况": "覆盖率达到95%。"},  # 待更正
        "2-2-1": {"本期完成": 7.8},  # 达标
    }), when=datetime(2021, 5, 10, 9, 0))  # late
    drop(ws, make_return(ws, tmp / "in", unit="灵宝市人民政府", values={"2-3-1": {"本期完成": 8}}))  # 序时推进 already
    # 卢氏县人民政府 sends nothing: 2-3-1's 合计 misses a part, 2-5-1 is 未报送
    standing = run_merge(ws, ROUND, now=NOW)
    return ws, standing


def opening_counts(paragraphs: list[str]) -> Counter:
    """Status counts as the report's opening says them (groups opened up into their statuses)."""
    opening = next(p for p in paragraphs if "项指标中" in p)
    said = opening.split("项指标中", 1)[1].split("；", 1)[0].replace("（滞后和逾期事项见附件1）", "")
    by_name = {g.name: g for g in GROUPS}
    counts: Counter = Counter()
    for item in re.findall(r"([^，（）、]+?)(\d+)项(?:（([^）]*)）)?", said):
        name, n, inner = item
        group = by_name[name]
        if inner:
            for status, m in re.findall(r"([^、\d]+)(\d+)项", inner):
                counts[Status(status)] += int(m)
            assert sum(counts[s] for s in group.statuses) == int(n)  # the group adds up
        else:
            (status,) = group.statuses
            counts[status] += int(n)
    return counts


def overview_counts(path) -> Counter:
    ws = openpyxl.load_workbook(path)["总览"]
    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "类别")
    names = [ws.cell(header, c).value for c in range(1, ws.max_column + 1)]
    total = next(r for r in range(header + 1, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
    counts: Counter = Counter()
    for c, name in enumerate(names, start=1):
        if name in STATUSES and ws.cell(total, c).value:
            counts[Status(name)] = int(ws.cell(total, c).value)
    return counts


def report_paragraphs(standing) -> list[str]:
    return [p.text for p in Document(str(standing.outputs["report"])).paragraphs]


def test_every_status_is_present(every_status):
    _, standing = every_status
    assert {s for s in STATUSES if s is not Status.TO_ADD} <= set(standing.counts), standing.counts


@pytest.mark.parametrize("which", ["every_status", "demo"])
def test_report_and_summary_counts_agree_status_by_status(which, request):
    fixture = request.getfixturevalue(which)
    standing = fixture.result if which == "demo" else fixture[1]
    said = opening_counts(report_paragraphs(standing))
    shown = overview_counts(standing.outputs["summary"])
    assert said == shown == +standing.counts
    assert sum(said.values()) == len(standing.headline)
    # the terminal names the same counts
    terminal = merge_summary(standing)
    for status, n in standing.counts.items():
        assert f"{status} {n}" in terminal


def test_lagging_items_are_the_same_everywhere(every_status):
    _, standing = every_status
    ws = openpyxl.load_workbook(standing.outputs["summary"])["滞后事项"]
    names = [ws.cell(r, 3).value for r in range(3, 3 + len(standing.lagging))]
    assert names == [item.row.indicator.name for item in standing.lagging]
    table = Document(str(standing.outputs["report"])).tables[0]  # 附件1
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert len(rows) == sum(len(item.lagging_parts) if item.hidden else 1 for item in standing.lagging)
    assert [r[2] for r in rows][:len(names)] == names[:len(rows)]


def test_rejected_figures_are_absent_from_the_report(every_status):
    _, standing = every_status
    pars = report_paragraphs(standing)
    text = "\n".join(pars)
    assert "覆盖率达到95%" not in text  # the 待更正 row's own sentence is not printed as fact
    assert "覆盖率数据待市发展改革委核实更正" in text  # …it is named as awaiting verification
    assert any("市发展改革委报送的覆盖率数据有误" in p for p in pars)


def test_a_total_with_a_part_missing_is_not_judged_on_the_partial_sum(tmp_path):
    ws = make_workspace(tmp_path)
    # 灵宝市 gives 1 of its 8.5: the partial sum (1 of 17.7) would be 滞后, but 卢氏县 has not reported
    drop(ws, make_return(ws, tmp_path / "in", unit="灵宝市人民政府", values={"2-3-1": {"本期完成": 1}}))
    standing = run_merge(ws, ROUND, now=NOW)
    total = next(r for r in standing.rows if r.indicator.code == "2-3-1" and r.is_total)
    assert total.undecided and total.status is Status.MISSING
    assert total.missing_parts == ("卢氏县人民政府",)
    assert all(item.row is not total for item in standing.attention())
    part = next(r for r in standing.rows if r.indicator.code == "2-3-1" and r.unit == "灵宝市人民政府")
    assert part.status is Status.LAGGING  # the unit itself is behind, and is named as such
    pars = report_paragraphs(standing)
    assert any("人工造林1万亩" in p and "（不含卢氏县数据）" in p for p in pars)


def test_a_value_rounding_to_100_is_not_done(tmp_path):
    indicators = [indicator_row(SHEET1, "1-1", "任务", "市科技局", "1-1-1", "完成投资", "累计", "亿元", 27.6, decimals=0)]
    ws = make_workspace(tmp_path, indicators=indicators, splits=[])
    drop(ws, make_return(ws, tmp_path / "in", unit="市科技局", values={"1-1-1": {"本期完成": 27.47}}))
    standing = run_merge(ws, ROUND, now=NOW)
    (row,) = standing.rows
    assert row.status is Status.ON_TRACK and row.completion == Decimal("99.5")
    sheet = openpyxl.load_workbook(standing.outputs["summary"])[SHEET1]
    values = [c.value for r in sheet.iter_rows(min_row=3) for c in r]
    assert 99.5 in values and "已完成" not in values
    assert "99.5%" in "\n".join(report_paragraphs(standing))


def test_a_superseded_draft_leaves_nothing_pending(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    drop(ws, make_return(ws, tmp_path / "in", unit="市科技局", name="初稿.xlsx",
                         values={"1-1-1": {"本期完成": "约59"}}), when=datetime(2021, 5, 6, 9, 0))
    drop(ws, make_return(ws, tmp_path / "in", unit="市科技局", name="更正.xlsx"), when=datetime(2021, 5, 7, 9, 0))
    for unit in ("市发展改革委", "灵宝市人民政府", "卢氏县人民政府"):
        drop(ws, make_return(ws, tmp_path / "in", unit=unit))
    code = main(["merge", "-w", str(ws.root), "-r", ROUND, "--now", "2021-05-13 09:00"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "待更正" not in out
    standing = run_merge(ws, ROUND, now=NOW)
    assert not standing.pending and not standing.pending_files
    draft = next(f for f in standing.files if f.submission.file == "初稿.xlsx")
    assert draft.fate is Fate.SUPERSEDED and not draft.pending
    assert not list(ws.feedback(ROUND).glob("*_回复.txt"))
    overview = openpyxl.load_workbook(standing.outputs["summary"])["总览"]
    assert "数据待更正" not in [overview.cell(r, 1).value for r in range(1, 20)]


def test_a_refused_file_followed_by_a_good_one_is_settled(tmp_path):
    ws = make_workspace(tmp_path)
    broken = ws.inbox(ROUND) / "坏文件.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    deliver(ws, ROUND, broken, datetime(2021, 5, 6, 9, 0))
    drop(ws, make_return(ws, tmp_path / "in", unit="市科技局"))
    standing = run_merge(ws, ROUND, now=NOW)
    # the broken file's unit is unknown: it stays pending (the office cannot tell whose it is)
    assert [f.submission.file for f in standing.pending_files] == ["坏文件.xlsx"]
    assert standing.unit("市科技局").state is UnitState.ON_TIME


def test_registry_warnings_reach_the_check_report_and_the_terminal(tmp_path):
    # 目标分解 of 2-3-1 adds up to 9 + 9.2, not the 17.7 the category sheet says
    ws = make_workspace(tmp_path, splits=[("2-3-1", "灵宝市人民政府", 9), ("2-3-1", "卢氏县人民政府", 9.2)])
    standing = run_merge(ws, ROUND, now=NOW)
    assert standing.registry_warnings
    sheet = openpyxl.load_workbook(standing.outputs["check"])["任务台账"]
    texts = [sheet.cell(r, 2).value or "" for r in range(3, sheet.max_row + 1)]
    assert any("2-3-1" in t and "不一致" in t for t in texts)
    assert "任务台账提示" in merge_summary(standing) and "2-3-1" in merge_summary(standing)


def test_the_year_at_a_glance_on_the_demo(demo):
    standing = demo.result
    history = standing.history
    assert history is not None and history.rounds() == ["2021-03", "2021-04"] and history.word == "上月"
    wb = openpyxl.load_workbook(standing.outputs["summary"])
    ws = wb["趋势"]
    assert [ws.cell(2, c).value for c in range(1, 4)] == ["类别", "2021-03", "2021-04"]
    now = {c.category: c for c in history.of("2021-04")}
    for r in range(3, 3 + len(now)):
        cat = ws.cell(r, 1).value
        assert Decimal(str(ws.cell(r, 3).value)) == now[cat].average
    assert ws.cell(3 + len(now), 1).value == "序时进度"
    assert ws._charts and ws._charts[0].tagname == "lineChart"
    doc = Document(str(standing.outputs["report"]))
    body = "\n".join(p.text for p in doc.paragraphs)
    first = now[standing.registry.categories[0].sheet]
    assert f"本类别累计类指标平均完成率{first.average}%，较上月提高{first.change}个百分点" in body
    gaps = [row.cells[5].text for row in doc.tables[0].rows[1:]]
    assert any("连续2月滞后" in g for g in gaps)


def test_two_returns_of_one_name_in_two_subfolders_get_two_replies(tmp_path):
    ws = make_workspace(tmp_path)
    for unit, folder in (("市科技局", "科技局"), ("市发展改革委", "发改委")):
        path = make_return(ws, tmp_path / "in" / folder, unit=unit, name="报表.xlsx",
                           values={"1-1-1": {"本期完成": "约59"}, "2-1-2": {"本期完成": "约3"}})
        (ws.inbox(ROUND) / folder).mkdir(parents=True, exist_ok=True)
        path.replace(ws.inbox(ROUND) / folder / "报表.xlsx")
    standing = run_merge(ws, ROUND, now=NOW)
    replies = sorted(p.name for p in ws.feedback(ROUND).glob("*_回复.txt"))
    marked = sorted(p.name for p in ws.feedback(ROUND).glob("*_问题反馈.xlsx"))
    assert len(replies) == 2 and len(marked) == 2, (replies, marked)
    for reply in ws.feedback(ROUND).glob("*_回复.txt"):
        text = reply.read_text(encoding="utf-8")
        assert any(m in text for m in marked)  # each reply names its own marked-up file
    assert {f.submission.unit for f in standing.pending_files} == {"市科技局", "市发展改革委"}


def test_a_rerun_with_nothing_new_reuses_the_outputs(tmp_path, monkeypatch):
    import toolkit.merge as merge_mod
    from toolkit.demo import deliver

    ws = make_workspace(tmp_path)
    deliver(ws, ROUND, _inbox_copy(ws, make_return(ws, tmp_path / "in", unit="市科技局")), datetime(2021, 5, 7, 9))
    first = run_merge(ws, ROUND, now=NOW)
    stamps = {k: p.stat().st_mtime_ns for k, p in first.outputs.items()}
    calls = []
    real = merge_mod.write_outputs
    monkeypatch.setattr(merge_mod, "write_outputs", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = run_merge(ws, ROUND, now=NOW.replace(hour=17))  # later the same day, nothing new
    assert calls == [] and again.outputs == first.outputs
    assert {k: p.stat().st_mtime_ns for k, p in again.outputs.items()} == stamps
    # a new return, an output deleted, or the next day: written again
    deliver(ws, ROUND, _inbox_copy(ws, make_return(ws, tmp_path / "in", unit="市发展改革委")),
            datetime(2021, 5, 7, 10))
    run_merge(ws, ROUND, now=NOW)
    assert calls == [1]
    first.outputs["summary"].unlink()
    run_merge(ws, ROUND, now=NOW)
    assert calls == [1, 1] and first.outputs["summary"].exists()
    run_merge(ws, ROUND, now=NOW.replace(day=14))
    assert calls == [1, 1, 1]


def _inbox_copy(ws, path):
    target = ws.inbox(ROUND) / path.name
    path.replace(target)
    return target


def test_the_outputs_fingerprint_follows_content_not_sharing(tmp_path):
    """The rerun's fingerprint sees every field of every row and indicator, and only content:
    an equal copy of a row or an indicator (as the cache gives) fingerprints the same."""
    import copy
    from dataclasses import replace

    from toolkit.merge import _outputs_digest

    ws = make_workspace(tmp_path)
    deliver(ws, ROUND, _inbox_copy(ws, make_return(ws, tmp_path / "in", unit="市科技局")), datetime(2021, 5, 7, 9))
    standing = run_merge(ws, ROUND, now=NOW)
    digest = _outputs_digest(standing)
    assert _outputs_digest(copy.deepcopy(standing)) == digest
    unshared = replace(standing, rows=[replace(r, indicator=copy.deepcopy(r.indicator)) for r in standing.rows])
    assert _outputs_digest(unshared) == digest
    row = standing.rows[0]
    for changed in (replace(row, progress=row.progress + "。"), replace(row, completion=Decimal("1.5")),
                    replace(row, indicator=replace(row.indicator, name=row.indicator.name + "X"))):
        assert _outputs_digest(replace(standing, rows=[changed, *standing.rows[1:]])) != digest
    lagging = standing.lagging[0]
    moved = replace(lagging, lagging_parts=[*lagging.lagging_parts, standing.rows[-1]])
    assert _outputs_digest(replace(standing, lagging=[moved, *standing.lagging[1:]])) != digest
    assert _outputs_digest(replace(standing, now=NOW.replace(hour=23))) == digest
    assert _outputs_digest(replace(standing, now=NOW.replace(day=14))) != digest


def test_a_rerun_with_nothing_new_never_works_out_the_history(tmp_path, monkeypatch):
    """The history is a function of the standing and the other rounds' results.csv, which the
    fingerprint covers: a rerun that reuses the outputs does not work it out (no pandas); a
    changed results.csv of another round makes the outputs be written again, history and all."""
    import shutil

    import toolkit.merge as merge_mod
    from toolkit.demo import deliver

    ws = make_workspace(tmp_path)
    deliver(ws, ROUND, _inbox_copy(ws, make_return(ws, tmp_path / "in", unit="市科技局")), datetime(2021, 5, 7, 9))
    first = run_merge(ws, ROUND, now=NOW)
    real = merge_mod.year_history
    calls: list[str] = []

    def counted(*args):
        calls.append("history")
        return real(*args)

    monkeypatch.setattr(merge_mod, "year_history", counted)
    writes = merge_mod.write_outputs
    monkeypatch.setattr(merge_mod, "write_outputs", lambda *a, **k: calls.append("outputs") or writes(*a, **k))
    again = run_merge(ws, ROUND, now=NOW)
    assert calls == [] and again.history is None and again.outputs == first.outputs
    # another round's results change (here: one appears): the outputs are written again, with a history
    other = ws.output("2021-03")
    other.mkdir(parents=True, exist_ok=True)
    shutil.copy(first.outputs["csv"], other / "results.csv")
    third = run_merge(ws, ROUND, now=NOW)
    assert calls == ["history", "outputs"] and third.history is not None
