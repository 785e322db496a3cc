"""The documents stay true: docs/codes.md is generated, every code is tested, every command documented."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

from toolkit import check, values
from toolkit.cli import build_parser
from toolkit.findings import Code

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
#: Test files that carry the cases for finding codes (those that exist are searched).
CODE_TEST_FILES = ("test_check_rules.py", "test_reader.py", "test_corpus.py")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load_script():
    spec = importlib.util.spec_from_file_location("gen_codes_doc", ROOT / "scripts" / "gen_codes_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_doc_is_generated_and_current():
    script = _load_script()
    committed = (ROOT / "docs" / "codes.md").read_text(encoding="utf-8")
    assert committed == script.render(), "docs/codes.md 已过期：请运行 python scripts/gen_codes_doc.py"
    assert "自动生成" in committed.splitlines()[2]
    for code in Code:
        assert re.search(rf"^\| {code.name} \| {code.level.value} \| ", committed, re.M), code.name


def test_codes_doc_check_mode(tmp_path, monkeypatch):
    script = _load_script()
    assert script.main(["--check"]) == 0
    monkeypatch.setattr(script, "TARGET", tmp_path / "codes.md")
    assert script.main(["--check"]) == 1
    assert script.main([]) == 0
    assert (tmp_path / "codes.md").read_text(encoding="utf-8") == script.render()


def test_every_code_has_a_test():
    sources = "\n".join((TESTS / name).read_text(encoding="utf-8") for name in CODE_TEST_FILES
                        if (TESTS / name).exists())
    missing = [c.name for c in Code if not re.search(rf"\b{c.name}\b", sources)]
    assert not missing, f"这些代码没有测试用例：{missing}（在 {' / '.join(CODE_TEST_FILES)} 中查找）"


def _subcommands() -> tuple[argparse._SubParsersAction, dict[str, argparse.ArgumentParser]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub, dict(sub.choices)


def test_every_subcommand_has_chinese_help_and_is_in_readme():
    sub, commands = _subcommands()
    assert commands, "no sub-commands found"
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, parser in commands.items():
        assert CJK.search(helps.get(name, "")), f"ducha {name} 缺少中文帮助"
        assert CJK.search(parser.description or ""), f"ducha {name} 缺少中文说明"
        for action in parser._actions:
            if action.help not in (None, argparse.SUPPRESS):
                assert CJK.search(action.help), f"ducha {name} 的 {action.option_strings or action.dest} 帮助不是中文"
        assert re.search(rf"`ducha {re.escape(name)}\b", readme), f"README.md 没有写 ducha {name}"


@pytest.mark.parametrize("name", ["JUMP_TARGET_FACTOR", "JUMP_POINTS", "EARLY_DAYS"])
def test_rules_doc_thresholds_match_check_py(name):
    rules = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    value = getattr(check, name)
    assert re.search(rf"^\| `{name}` \| {value} \|", rules, re.M), f"docs/rules.md 中 {name} 应为 {value}"


def test_rules_doc_lists_markers_and_units():
    rules = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    lowered = rules.lower()
    for marker in values.NOTHING_MARKERS:
        assert f"`{marker}`" in lowered, f"docs/rules.md 没有列出“{marker}”"
    for unit in values.UNITS:
        assert unit in rules, f"docs/rules.md 没有列出单位“{unit}”"
    for multiplier in values.MULTIPLIERS:
        assert multiplier in rules
    for code in ("E201", "E204", "E206", "W302", "W301", "W313", "W303", "W304"):
        assert code in rules
