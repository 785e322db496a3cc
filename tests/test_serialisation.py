"""A round's accepted entries and the outcome cache, written field by field: the same data as
``dataclasses.asdict`` gave, and what the earlier code wrote still loads."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

from toolkit.cache import OutcomeCache, _dump
from toolkit.check import Outcome
from toolkit.findings import Code, make
from toolkit.model import Category, Entry, Indicator, Registry, Settings, Unit
from toolkit.snapshot import Basis, Pick
from toolkit.workspace import Workspace, entry_json, entry_record

D = Decimal
ENTRIES = [
    Entry("1-1", "市科技局", value=D("59"), last_year=D("64.50"), progress="科技型中小企业已备案59家\n第二行",
          problems="", next_steps="继续", file="01.xlsx", sheet="一、创新驱动", row=3),
    Entry("2-1", "市发展改革委", value=D("1816"), base=D("2124"), rate=D("85.50"), invalid=True),
    Entry("3-3", "市住建局", state="已完成", value=None, progress='含"引号"与\\反斜杠 & <标记>'),
]


def _old_record(e: Entry) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(e).items()}


def test_entry_record_is_what_asdict_gave():
    for e in ENTRIES:
        assert entry_record(e) == _old_record(e)


class _Figure(Decimal):
    def __str__(self) -> str:
        return "figure " + super().__str__()


ODD = [  # fields of other types than an Entry's own: written by json itself, as before
    Entry("4-1", "市统计局", value=5, row=True, invalid=1),  # type: ignore[arg-type]
    Entry("4-2", "市统计局", value=1.5, progress=None),  # type: ignore[arg-type]
    Entry("4-3", "市统计局", value=_Figure("7.25"), problems=D("3")),  # type: ignore[arg-type]
    Entry("4-4", "市统计局", value=D("NaN"), base=D("-1E+3"), last_year=D("0.000"), next_steps="\u2028\t\x00末"),
]


def test_entry_json_is_what_json_dumps_gave():
    extra = {"计量单位": "万元", "指标类型": "累计"}
    for e in ENTRIES + ODD:
        assert entry_json(e) == json.dumps(_old_record(e), ensure_ascii=False)
        given = entry_json(e, extra, ", " + json.dumps(extra, ensure_ascii=False)[1:-1])
        assert given == json.dumps({**_old_record(e), **extra}, ensure_ascii=False)


def test_saved_entries_are_what_json_dumps_gave(tmp_path):
    """entries.json line by line as json.dumps wrote each record (with its 计量单位 and type)."""
    ind = Indicator(sheet="一、创新驱动", row=3, task_no="1", task="任务", lead="市科技局", co="", code="1-1",
                    name="科技型中小企业", kind="累计", unit="家", target=D(140), due=None, due_text="",
                    reporters=("市科技局",))
    odd = dataclasses.replace(ind, code="4-3", unit='万"元\\', kind="上限")
    registry = dataclasses.replace(_registry(), categories=[Category("一、创新驱动", "一、创新驱动", (ind, odd))])
    ws = Workspace(tmp_path)
    ws.save_entries("2021-04", ENTRIES + ODD, registry)
    lines = (ws.state("2021-04") / "entries.json").read_text(encoding="utf-8").split("\n")[:-1]
    by_code = {i.code: {"计量单位": i.unit, "指标类型": i.kind} for i in (ind, odd)}
    expected = [json.dumps({**_old_record(e), **by_code.get(e.code, {})}, ensure_ascii=False) for e in ENTRIES + ODD]
    assert lines[1:-1] == [line + "," for line in expected[:-1]] + expected[-1:]
    assert lines[0].startswith('{"round": "2021-04", "saved": ') and lines[-1] == "]}"


def test_entries_round_trip(tmp_path):
    ws = Workspace(tmp_path)
    ws.save_entries("2021-04", ENTRIES)
    loaded = ws.load_entries("2021-04")
    assert loaded == {(e.code, e.unit): e for e in ENTRIES}
    data = json.loads((ws.state("2021-04") / "entries.json").read_text(encoding="utf-8"))
    assert data["round"] == "2021-04" and data["entries"] == [_old_record(e) for e in ENTRIES]


def test_entries_saved_by_the_earlier_code_still_load(tmp_path):
    ws = Workspace(tmp_path)
    path = ws.state("2021-03") / "entries.json"
    path.parent.mkdir(parents=True)
    old = [_old_record(e) for e in ENTRIES]
    old[0].pop("sheet")  # saved before a field existed: its default
    old[1]["retired_field"] = "x"  # a field since removed: ignored
    path.write_text(json.dumps({"round": "2021-03", "saved": "2021-04-12T09:00:00", "entries": old},
                               ensure_ascii=False, indent=1), encoding="utf-8")
    loaded = ws.load_entries("2021-03")
    assert loaded == {(e.code, e.unit): (dataclasses.replace(e, sheet="") if e is ENTRIES[0] else e) for e in ENTRIES}


def _registry() -> Registry:
    return Registry(path=Path("master.xlsx"), settings=Settings(), units={"市科技局": Unit("01", "市科技局")},
                    rounds=[], categories=[])


def _outcome() -> Outcome:
    out = Outcome(file="01.xlsx", unit=Unit("01", "市科技局"), unit_name="市科技局", round="2021-04")
    out.findings.append(make(Code.W313, file="01.xlsx", unit="市科技局", sheet="一、创新驱动", cell="H3",
                             value="42.14%", detail="42.14"))
    out.entries.extend(dataclasses.replace(e, file="01.xlsx") for e in ENTRIES)
    return out


def test_cache_round_trip_and_old_entries(tmp_path):
    registry = _registry()
    cache = OutcomeCache(tmp_path, "k", registry)
    pick = Pick("snap", Basis.TEMPLATE, "s")
    outcome = _outcome()
    cache.put("ab" * 32, outcome, pick)
    got, got_pick = cache.get("ab" * 32, "改名.xlsx")
    assert got_pick == pick and got.unit == outcome.unit and got.entries == [
        dataclasses.replace(e, file="改名.xlsx") for e in outcome.entries]
    assert [f.code for f in got.findings] == [Code.W313] and got.findings[0].file == "改名.xlsx"
    assert "改名.xlsx" in got.findings[0].message
    # the earlier code's entry: asdict of every finding and entry, json.dump to the file
    old = {"file": "01.xlsx", "unit_code": "01", "unit_name": "市科技局", "round": "2021-04",
           "findings": [{**dataclasses.asdict(f), "code": f.code.name} for f in outcome.findings],
           "entries": [_old_record(e) for e in outcome.entries],
           "against": {"snapshot": "snap", "basis": Basis.TEMPLATE.value, "stamp": "s"}}
    dumped = _dump(outcome)  # entries as rows of the fields' values, the fields named once
    names = dumped.pop("fields")
    assert [dict(zip(names, row, strict=True)) for row in dumped.pop("entries")] == old["entries"]
    assert {**dumped, "entries": old["entries"], "against": old["against"]} == old
    (tmp_path / f"{'cd' * 16}-k.json").write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    again, _ = cache.get("cd" * 32, "01.xlsx")
    assert again.entries == outcome.entries and again.findings == outcome.findings


def test_cache_entries_of_fields_no_longer_known_are_read_again(tmp_path):
    """An entry saved with a field the code no longer has (or without one it needs) is no hit."""
    registry = _registry()
    cache = OutcomeCache(tmp_path, "k", registry)
    pick = Pick("snap", Basis.TEMPLATE, "s")
    cache.put("ab" * 32, _outcome(), pick)
    path = next(tmp_path.glob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert cache.get("ab" * 32, "01.xlsx") is not None
    data["fields"] = [*data["fields"][:-1], "retired_field"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert cache.get("ab" * 32, "01.xlsx") is None
    data["fields"] = data["fields"][:-1]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert cache.get("ab" * 32, "01.xlsx") is None  # rows longer than the fields named
