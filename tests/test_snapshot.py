"""The registry of a round is frozen when its templates are issued.

Each case builds a workspace with the factories, issues the round's templates with
``issue_templates`` (the library function behind ``ducha templates``), has the
departments fill the issued files with openpyxl, lets the office edit master.xlsx,
and merges: no department is blamed for the office's edit (no W310 「请勿修改灰色
单元格」, no F113 refusal), the results use the master as it is now, and the change
is listed for the office.
"""

from __future__ import annotations

import copy
import csv
import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from factories import (
    DEFAULT_INDICATORS,
    DEFAULT_SPLITS,
    SHEET1,
    SHEET2,
    delete_meta,
    fill_workbook,
    indicator_row,
    make_master,
    make_workspace,
)

from toolkit.cli import main
from toolkit.demo import deliver
from toolkit.findings import Code, Level
from toolkit.merge import round_status, run_merge
from toolkit.model import Entry, Status
from toolkit.snapshot import ChangeKind, SnapshotStore, issue_templates, render_changes
from toolkit.standing import Standing, UnitState
from toolkit.templates import META_SHEET, SNAPSHOT_KEY, TEMPLATE_VERSION, write_templates
from toolkit.workspace import Workspace, measure_factor, rescale

D = Decimal
ROUND, HISTORY = "2021-04", "2021-03"
KJ, FG, LB, LS = "市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"
UNITS = (KJ, FG, LB, LS)
ISSUED_AT = datetime(2021, 4, 26, 9, 0)
ARRIVED = datetime(2021, 5, 7, 10, 0)
MERGED_AT = datetime(2021, 5, 13, 9, 0)
#: What a department is told when it is blamed for the office's edit.
BLAME = {Code.W310, Code.F113}


# ---------------------------------------------------------------------------------------
# helpers


def edit_master(ws: Workspace, change: Callable[[list[dict]], None]) -> None:
    """The office edits master.xlsx: ``change`` edits the indicator rows in place."""
    rows = copy.deepcopy(DEFAULT_INDICATORS)
    change(rows)
    make_master(ws.root, indicators=rows, splits=DEFAULT_SPLITS)


def set_fields(code: str, **fields: object) -> Callable[[list[dict]], None]:
    def change(rows: list[dict]) -> None:
        row = next(r for r in rows if r["指标编号"] == code)
        row.update(fields)
    return change


def add_after(code: str, *new: dict) -> Callable[[list[dict]], None]:
    def change(rows: list[dict]) -> None:
        i = next(i for i, r in enumerate(rows) if r["指标编号"] == code)
        rows[i + 1:i + 1] = list(new)
    return change


def issued_template(ws: Workspace, unit: str, round_name: str = ROUND) -> Path:
    return next(ws.templates(round_name).glob(f"*_{unit}_{round_name}.xlsx"))


def returned(ws: Workspace, unit: str, values: dict | None = None, *, round_name: str = ROUND,
             at: datetime = ARRIVED, name: str | None = None, edit: Callable | None = None) -> Path:
    """The department fills the template it was issued and mails it in."""
    wb = openpyxl.load_workbook(issued_template(ws, unit, round_name))
    fill_workbook(wb, values)
    if edit is not None:
        edit(wb)
    target = ws.inbox(round_name) / (name or f"{unit}报表.xlsx")
    wb.save(target)
    deliver(ws, round_name, target, at)
    return target


def everyone_returns(ws: Workspace, values: dict[str, dict] | None = None, **kw) -> None:
    for unit in UNITS:
        returned(ws, unit, (values or {}).get(unit), **kw)


def row(result: Standing, code: str, unit: str):
    return next(r for r in result.rows if r.indicator.code == code and r.unit == unit)


def assert_nobody_blamed(result: Standing) -> None:
    assert {f.code for f in result.findings} & BLAME == set(), [f.message for f in result.findings]
    assert all(s.accepted and not s.errors for s in result.submissions)
    assert not [f for f in result.findings if f.level is not Level.NOTICE]


def meta(path: Path) -> dict[str, str]:
    sheet = openpyxl.load_workbook(path)[META_SHEET]
    pairs = {}
    for r in range(1, sheet.max_row + 1):
        key = sheet.cell(r, 1).value
        if key == "工作表":
            break
        pairs[key] = sheet.cell(r, 2).value or ""
    return pairs


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A workspace whose 2021-04 templates were issued on 26 April."""
    ws = make_workspace(tmp_path)
    issue_templates(ws, ROUND, now=ISSUED_AT)
    return ws


# ---------------------------------------------------------------------------------------
# issuing


def test_issuing_stores_the_master_and_records_who_got_which(ws):
    store = SnapshotStore(ws.snapshots(ROUND))
    issues = store.issues()
    assert sorted(i.unit_name for i in issues) == sorted(UNITS)
    [sid] = {i.snapshot for i in issues}
    assert store.path(sid).read_bytes() == ws.master.read_bytes()
    assert all(i.at == ISSUED_AT for i in issues)
    for unit in UNITS:
        pairs = meta(issued_template(ws, unit))
        assert pairs[SNAPSHOT_KEY] == sid and pairs["模板版本"] == TEMPLATE_VERSION == "2"
    # the snapshots are no templates: nothing new among the files to send
    assert sorted(p.name for p in ws.templates(ROUND).iterdir()) == sorted(i.template for i in issues)


def test_an_untouched_master_blames_nobody_and_lists_no_change(ws):
    everyone_returns(ws)
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert result.registry_changes == [] and render_changes(result.registry_changes) == []


# ---------------------------------------------------------------------------------------
# the office edits master.xlsx mid-round


def test_a_target_changed_mid_round(ws):
    everyone_returns(ws)
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    got = row(result, "1-1-1", KJ)
    assert (got.target, got.value, got.completion) == (D(112), D(56), D("50.00"))  # the new target
    [change] = result.registry_changes
    assert (change.kind, change.code, change.before, change.after, change.units, change.since) == \
        (ChangeKind.TARGET, "1-1-1", D(140), D(112), (KJ,), ISSUED_AT)
    head, line = render_changes(result.registry_changes)
    assert "1 处修改" in head
    assert "指标 1-1-1“科技型中小企业备案”的年度目标由 140 改为 112" in line
    assert "4月26日 09:00 下发模板后修改" in line and "市科技局" in line
    # the check report lists it for the office
    book = openpyxl.load_workbook(result.outputs["check"], read_only=True)
    cells = {str(v) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True) for v in r if v}
    book.close()
    assert line.split(". ", 1)[1] in cells


def test_a_name_changed_mid_round(ws):
    everyone_returns(ws)
    edit_master(ws, set_fields("1-1-1", 指标名称="科技型中小企业入库"))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert row(result, "1-1-1", KJ).indicator.name == "科技型中小企业入库"
    [change] = result.registry_changes
    assert (change.kind, change.before, change.after, change.name) == \
        (ChangeKind.NAME, "科技型中小企业备案", "科技型中小企业入库", "科技型中小企业入库")
    assert "指标 1-1-1 的名称由“科技型中小企业备案”改为“科技型中小企业入库”" in render_changes(result.registry_changes)[1]


def test_a_unit_changed_mid_round_converts_the_returned_value(ws):
    everyone_returns(ws)  # 1-1-2 is filled as 20000 万元 (40% of 50000)
    edit_master(ws, set_fields("1-1-2", 计量单位="亿元", 年度目标=5))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    got = row(result, "1-1-2", KJ)
    assert (got.value, got.target, got.completion) == (D(2), D(5), D("40.00"))
    kinds = {(c.kind, c.before, c.after) for c in result.registry_changes}
    assert kinds == {(ChangeKind.MEASURE, "万元", "亿元"), (ChangeKind.TARGET, D(50000), D(5))}
    text = "\n".join(render_changes(result.registry_changes))
    assert "计量单位由 万元 改为 亿元" in text and "已换算为亿元" in text
    # the next round is checked against the figures in 亿元
    saved = json.loads((ws.state(ROUND) / "entries.json").read_text(encoding="utf-8"))["entries"]
    kept = next(e for e in saved if e["code"] == "1-1-2")
    assert (kept["value"], kept["计量单位"]) == ("2", "亿元")


def test_a_unit_that_does_not_convert_is_asked_again(ws):
    everyone_returns(ws)
    edit_master(ws, set_fields("1-1-1", 计量单位="个"))  # 家 → 个: no conversion exists
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert row(result, "1-1-1", KJ).status is Status.TO_ADD
    [change] = result.registry_changes
    assert change.kind is ChangeKind.MEASURE and change.pending
    assert "无法换算" in render_changes(result.registry_changes)[1]


ADDED_KJ = indicator_row(SHEET1, "", "", "", "1-1-3", "高新技术企业", "累计", "家", 20)
ADDED_COUNTIES = indicator_row(SHEET2, "2-5", "推进生态修复", LB, "2-3-2", "矿山修复", "累计", "公顷", 30,
                               reporters=f"{LB}、{LS}")


def test_an_indicator_added_mid_round_is_pending_not_refused(ws):
    everyone_returns(ws)
    edit_master(ws, lambda rows: (add_after("1-1-2", ADDED_KJ)(rows), rows.append(ADDED_COUNTIES)))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert row(result, "1-1-3", KJ).status is Status.TO_ADD
    assert [row(result, "2-3-2", u).status for u in (LB, LS, "合计")] == [Status.TO_ADD] * 3
    assert row(result, "1-1-1", KJ).status is not Status.TO_ADD and row(result, "2-3-1", "合计").value is not None
    added = [(c.kind, c.code, c.units) for c in result.registry_changes]
    assert added == [(ChangeKind.ADDED, "1-1-3", (KJ,)), (ChangeKind.ADDED, "2-3-2", (LB, LS))]
    assert all("待补报" in line and "--changed" in line for line in render_changes(result.registry_changes)[1:])
    # every output is written with the new status
    with open(result.outputs["csv"], encoding="utf-8-sig", newline="") as fh:
        statuses = {(r["指标编号"], r["单位名称"]): r["状态"] for r in csv.DictReader(fh)}
    assert statuses[("1-1-3", KJ)] == "待补报" and statuses[("2-3-2", "合计")] == "待补报"


def test_an_indicator_removed_mid_round_drops_its_figures(ws):
    everyone_returns(ws)
    edit_master(ws, lambda rows: rows.remove(next(r for r in rows if r["指标编号"] == "1-1-2")))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert not [r for r in result.rows if r.indicator.code == "1-1-2"]
    [change] = result.registry_changes
    assert (change.kind, change.code, change.units) == (ChangeKind.REMOVED, "1-1-2", (KJ,))
    saved = json.loads((ws.state(ROUND) / "entries.json").read_text(encoding="utf-8"))["entries"]
    assert "1-1-2" not in {e["code"] for e in saved}


def test_a_rebuilt_return_is_checked_against_what_its_unit_was_issued(ws):
    returned(ws, KJ, edit=delete_meta)  # no template identity: found by 填报单位
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    codes = {f.code for f in result.findings}
    assert Code.W307 in codes and not codes & BLAME
    assert row(result, "1-1-1", KJ).target == D(112)


def test_a_template_issued_before_snapshots_is_recognised_by_its_rows(tmp_path):
    ws = make_workspace(tmp_path)
    rnd = ws.registry().round(ROUND)
    write_templates(ws.registry(), rnd, ws.templates(ROUND), now=ISSUED_AT)  # an older toolkit: no snapshot
    assert meta(issued_template(ws, KJ))[SNAPSHOT_KEY] == ""
    everyone_returns(ws)
    issue_templates(ws, ROUND, now=datetime(2021, 4, 28, 9))  # the upgraded toolkit, same master
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert_nobody_blamed(result)
    assert [(c.kind, c.units) for c in result.registry_changes] == [(ChangeKind.TARGET, (KJ,))]


def test_without_a_snapshot_the_current_master_is_the_registry(tmp_path):
    """A round whose templates were written before this change: checked as before."""
    ws = make_workspace(tmp_path)
    write_templates(ws.registry(), ws.registry().round(ROUND), ws.templates(ROUND), now=ISSUED_AT)
    everyone_returns(ws)
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert Code.W310 in {f.code for f in result.findings}
    assert result.registry_changes == []


# ---------------------------------------------------------------------------------------
# units of measure between rounds


@pytest.mark.parametrize("typed,drop", [(2.5, False), (1.5, True)])
def test_a_unit_changed_between_rounds_is_converted_before_judging_a_drop(tmp_path, typed, drop):
    ws = make_workspace(tmp_path)
    issue_templates(ws, HISTORY, now=datetime(2021, 3, 25, 9))
    everyone_returns(ws, round_name=HISTORY, at=datetime(2021, 4, 7, 15))  # 1-1-2: 20000 万元
    run_merge(ws, HISTORY, now=datetime(2021, 4, 12, 9))
    edit_master(ws, set_fields("1-1-2", 计量单位="亿元", 年度目标=5))
    issue_templates(ws, ROUND, now=ISSUED_AT)
    everyone_returns(ws, {KJ: {"1-1-2": {"本期完成": typed}}})
    result = run_merge(ws, ROUND, now=MERGED_AT)
    drops = [f for f in result.findings if f.code is Code.E208]
    if drop:
        [finding] = drops  # 1.5 亿元 is less than last round's 20000 万元 = 2 亿元
        assert re.search(r"累计数 1\.5 小于上一轮已报送的 2(?![0-9])", finding.message), finding.message
        assert row(result, "1-1-2", KJ).status is Status.PENDING
    else:
        assert drops == [] and row(result, "1-1-2", KJ).value == D("2.5")
        assert not [f for f in result.findings if f.code is Code.W303]
    assert result.registry_changes == []  # changed before this round's templates went out


@pytest.mark.parametrize("old,new,power", [
    ("万元", "亿元", -4), ("亿元", "万元", 4), ("人", "万人", -4), ("万人", "人", 4), ("元", "万元", -4),
    ("万元", "万元", 0), ("%", "%", 0), ("", "家", 0), ("（万元）", "亿元", -4),
    ("家", "个", None), ("%", "万元", None), ("万元", "%", None), ("万元", "亩", None),
])
def test_measure_factor(old, new, power):
    assert measure_factor(old, new) == power


def test_rescale_converts_figures_not_counts():
    entry = Entry(code="x", unit=KJ, value=D("20000"), base=D(7), last_year=D("15000.5"), rate=D("42.1"))
    got = rescale(entry, "万元", "亿元")
    assert got is not None and (got.value, got.last_year, got.base, got.rate) == (D(2), D("1.50005"), D(7), D("42.1"))
    assert rescale(entry, "家", "个") is None
    assert rescale(entry, "万元", "万元") is entry


# ---------------------------------------------------------------------------------------
# ducha templates --changed


def _issue_cli(ws: Workspace, capsys, *extra: str) -> tuple[int, str]:
    code = main(["templates", "-w", str(ws.root), "-r", ROUND, "--now", "2021-05-06 09:00", *extra])
    return code, capsys.readouterr().out


def test_changed_reissues_only_to_units_whose_rows_changed(ws, capsys):
    first = {u: meta(issued_template(ws, u))[SNAPSHOT_KEY] for u in UNITS}
    edit_master(ws, set_fields("2-1-1", 年度目标=98))  # a row of 市发展改革委 only
    code, out = _issue_cli(ws, capsys, "--changed")
    assert code == 0
    assert "年度目标由 95 改为 98" in out and f"{FG}：" in out
    assert "已为 1 个台账有改动的单位重新生成" in out and "其余 3 个单位" in out
    now = {u: meta(issued_template(ws, u))[SNAPSHOT_KEY] for u in UNITS}
    assert now[FG] != first[FG] and all(now[u] == first[u] for u in (KJ, LB, LS))
    issues = SnapshotStore(ws.snapshots(ROUND)).issues()
    assert [(i.unit_name, i.at) for i in issues[len(UNITS):]] == [(FG, datetime(2021, 5, 6, 9))]
    # nothing changed since: nothing is re-issued
    code, out = _issue_cli(ws, capsys, "--changed")
    assert code == 0 and "无需重发" in out
    assert len(SnapshotStore(ws.snapshots(ROUND)).issues()) == len(UNITS) + 1


def test_changed_units_returning_the_new_template_are_no_longer_pending(ws):
    everyone_returns(ws)
    edit_master(ws, add_after("1-1-2", ADDED_KJ))
    issued = issue_templates(ws, ROUND, now=datetime(2021, 5, 6, 9), changed_only=True)
    assert [t.unit.name for t in issued.templates] == [KJ] and len(issued.unchanged) == 3
    assert [(c.kind, c.code) for c in issued.changes] == [(ChangeKind.ADDED, "1-1-3")]
    returned(ws, KJ, {"1-1-3": {"本期完成": 8}}, at=datetime(2021, 5, 7, 16), name="科技局补报.xlsx")
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert {f.code for f in result.findings} & BLAME == set()
    got = row(result, "1-1-3", KJ)
    assert (got.value, got.status) == (D(8), Status.ON_TRACK)
    assert result.registry_changes == []  # 市科技局 has the new template; the others' rows did not change


def test_changed_on_a_round_never_issued_issues_to_everyone(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    code, out = _issue_cli(ws, capsys, "--changed")
    assert code == 0 and "此前没有下发记录" in out
    assert len(SnapshotStore(ws.snapshots(ROUND)).issues()) == len(UNITS)


# ---------------------------------------------------------------------------------------
# the cache, status and check


def test_the_cache_keeps_outcomes_checked_against_their_snapshot(ws, monkeypatch):
    import toolkit.merge as merge

    everyone_returns(ws)
    run_merge(ws, ROUND, now=MERGED_AT)
    calls: list[Path] = []
    real = merge.examine
    monkeypatch.setattr(merge, "examine", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert calls == []  # every return names its snapshot: nothing to check again
    assert row(result, "1-1-1", KJ).target == D(112) and len(result.registry_changes) == 1


def test_the_cache_does_not_reuse_an_outcome_checked_against_another_registry(tmp_path, monkeypatch):
    import toolkit.merge as merge

    ws = make_workspace(tmp_path)
    write_templates(ws.registry(), ws.registry().round(ROUND), ws.templates(ROUND), now=ISSUED_AT)
    everyone_returns(ws)
    first = run_merge(ws, ROUND, now=MERGED_AT)
    assert Code.W310 not in {f.code for f in first.findings}
    calls: list[Path] = []
    real = merge.examine
    monkeypatch.setattr(merge, "examine", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    again = run_merge(ws, ROUND, now=MERGED_AT)
    assert len(calls) == len(UNITS)  # checked against the master, which is another registry now
    assert Code.W310 in {f.code for f in again.findings}


def test_a_rebuilt_return_is_checked_again_when_its_unit_gets_a_new_template(ws, monkeypatch):
    import toolkit.merge as merge

    returned(ws, KJ, edit=delete_meta)
    run_merge(ws, ROUND, now=MERGED_AT)
    calls: list[Path] = []
    real = merge.examine
    monkeypatch.setattr(merge, "examine", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    run_merge(ws, ROUND, now=MERGED_AT)
    assert calls == []
    edit_master(ws, set_fields("1-1-1", 年度目标=112))
    issue_templates(ws, ROUND, now=datetime(2021, 5, 6, 9), changed_only=True)
    result = run_merge(ws, ROUND, now=MERGED_AT)
    assert len(calls) == 1  # which snapshot it fits is chosen afresh among those issued to it
    assert not {f.code for f in result.findings} & BLAME  # it still fits the template it was built from


def test_status_and_check_use_the_snapshot(ws, capsys):
    everyone_returns(ws)
    edit_master(ws, add_after("1-1-2", ADDED_KJ))
    status = round_status(ws, ROUND, MERGED_AT)
    assert [u.state for u in status.expected_units()] == [UnitState.ON_TIME] * len(UNITS)
    assert status.registry_changes and row(status, "1-1-3", KJ).status is Status.TO_ADD
    path = ws.inbox(ROUND) / f"{KJ}报表.xlsx"
    code = main(["check", "--json", "-w", str(ws.root), "-r", ROUND, str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["files"][0]["accepted"]
    assert not {f["code"] for f in doc["files"][0]["findings"]} & {c.name for c in BLAME}
