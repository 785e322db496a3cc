"""The command line and the clerk's scripts, run the way people run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from toolkit.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["demo", "init", "templates", "check", "merge", "status", "receive", "withdraw", "log", "mail",
            "schedule"]


def run(*args: str, env: dict | None = None, cwd: Path | None = None, stdin=subprocess.DEVNULL):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, cwd=cwd or ROOT,
                          env=full_env, stdin=stdin, timeout=300)


def text(proc) -> str:
    return (proc.stdout + proc.stderr).decode("utf-8", errors="replace")


def test_every_command_is_known():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]], ids=lambda a: " ".join(a))
def test_help_is_chinese_and_prints_under_gbk(args):
    proc = run(*args, env={"PYTHONIOENCODING": "gbk"})
    assert proc.returncode == 0
    out = proc.stdout.decode("gbk")
    assert "用法：" in out and "显示本帮助并退出" in out
    assert "usage:" not in out and "show this help" not in out


def test_bad_arguments_give_chinese_error_and_exit_2():
    proc = run("merge", "--no-such-option")
    assert proc.returncode == 2
    assert "错误：" in text(proc) and "Traceback" not in text(proc)


def test_missing_workspace_is_a_clear_error(tmp_path):
    proc = run("merge", "-w", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "错误：" in text(proc) and "Traceback" not in text(proc)


def test_commands_under_gbk_console(demo, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    for args in (["status", "-w", str(copy), "-r", "2021-04", "--now", "2021-05-13 09:00"],
                 ["log", "-w", str(copy), "-r", "2021-04"]):
        proc = run(*args, env={"PYTHONIOENCODING": "gbk"})
        assert proc.returncode == 0, proc.stderr.decode("gbk", errors="replace")
        out = proc.stdout.decode("gbk")
        assert "市城市管理局" in out or "时间依据" in out


def test_status_lists_every_unit(demo):
    proc = run("status", "-w", str(demo.folder), "-r", "2021-04", "--now", "2021-05-13 09:00")
    assert proc.returncode == 0
    out = proc.stdout.decode("utf-8")
    assert "未报送（已逾期）" in out and "逾期报送" in out and "按时报送" in out
    assert out.count("市") >= 20


def test_check_exit_codes_and_json(demo, tmp_path):
    inbox = demo.folder / "rounds" / "2021-04" / "inbox"
    good = next(inbox.glob("*市公安局*"))
    bad = next(inbox.glob("*市住房城乡建设局*"))
    assert run("check", str(good)).returncode == 0
    proc = run("check", str(bad))
    assert proc.returncode == 1
    assert "E203" in text(proc) and "约2.1" in text(proc)
    proc = run("check", "--json", str(bad), str(good))
    doc = json.loads(proc.stdout.decode("utf-8"))
    assert proc.returncode == 1
    assert [f["accepted"] for f in doc["files"]] == [True, True]
    codes = [x["code"] for x in doc["files"][0]["findings"]]
    assert "E203" in codes
    assert doc["history_checked"] is False
    assert run("check", str(tmp_path / "missing.xlsx")).returncode == 2
    # a cover letter is not refused: the merge files it as an attachment, and check says so
    from docx import Document

    letter = tmp_path / "报送说明.docx"
    document = Document()
    document.add_paragraph("现将我局重点工作进展情况报送如下。")
    document.save(str(letter))
    proc = run("check", str(letter))
    assert proc.returncode == 0 and "报送说明.docx：附件（Word 文档）" in text(proc) and "F102" not in text(proc)
    proc = run("check", "--json", str(letter), str(bad))
    doc = json.loads(proc.stdout.decode("utf-8"))
    assert proc.returncode == 1 and doc["attachments"] == [{"file": "报送说明.docx", "kind": "Word 文档"}]
    # a zip archive and a saved mail are opened as the merge opens them; their returns are checked
    import zipfile

    packed = tmp_path / "住建局报表.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.write(bad, "4月/住建局.xlsx")
        archive.write(letter, "报送说明.docx")
    mail = next(inbox.glob("*市交通运输局*.eml"))
    proc = run("check", "--json", str(packed), str(mail))
    doc = json.loads(proc.stdout.decode("utf-8"))
    assert proc.returncode == 1
    assert [f["file"] for f in doc["files"]] == ["住建局报表.zip/住建局.xlsx", f"{mail.name}/附件1：市交通运输局重点工作进展情况表.xlsx"]
    assert "E203" in [x["code"] for x in doc["files"][0]["findings"]] and doc["files"][1]["accepted"]
    assert doc["attachments"] == [{"file": "住建局报表.zip/报送说明.docx", "kind": "Word 文档"}]
    untouched = next((demo.folder / "rounds" / "2021-04" / "templates").glob("*市科技局*"))
    proc = run("check", str(untouched))
    assert proc.returncode == 1 and "：空表，" in text(proc) and "F116" in text(proc)


def test_check_with_workspace_uses_history(demo):
    inbox = demo.folder / "rounds" / "2021-04" / "inbox"
    lower = next(inbox.glob("*市农业农村局*"))
    proc = run("check", "--json", "-w", str(demo.folder), "-r", "2021-04", str(lower))
    doc = json.loads(proc.stdout.decode("utf-8"))
    assert doc["history_checked"] is True
    assert "E208" in [x["code"] for x in doc["files"][0]["findings"]]


def test_init_and_templates(tmp_path):
    ws = tmp_path / "2021年督查"
    assert run("init", str(ws)).returncode == 0
    assert (ws / "master.xlsx").exists()
    assert run("init", str(ws)).returncode == 2  # never overwrites
    proc = run("templates", "-w", str(ws), "-r", "2021-04")
    assert proc.returncode == 0, text(proc)
    made = sorted((ws / "rounds" / "2021-04" / "templates").glob("*.xlsx"))
    assert len(made) == 26
    wb = openpyxl.load_workbook(made[0])
    assert wb.sheetnames[0] == "填报说明"


def test_demo_command(tmp_path):
    proc = run("demo", "--out", str(tmp_path / "d"))
    assert proc.returncode == 0, text(proc)
    out = proc.stdout.decode("utf-8")
    assert "演示完成" in out
    # the round's standing is said before the files, as a merge says it (the files once)
    assert "应报送单位 26 个：按时报送 23，逾期报送 2，未报送 1。" in out and "未报送：市城市管理局" in out
    assert out.index("应报送单位") < out.index("演示完成") and "输出文件：" not in out
    # a second run into the same demo folder starts afresh; a foreign folder is refused
    assert run("demo", "--out", str(tmp_path / "d")).returncode == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "重要.txt").write_text("x", encoding="utf-8")
    proc = run("demo", "--out", str(foreign))
    assert proc.returncode == 2 and (foreign / "重要.txt").exists()


@pytest.mark.parametrize("script,expect", [
    ("make_templates.py", "已为 26 个单位生成"),
    ("status.py", "报送截止"),
    ("merge.py", "输出文件"),
])
def test_clerk_scripts(demo, tmp_path, script, expect):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / script), str(copy), "-r", "2021-04"],
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**os.environ, "DUCHA_PAUSE": "1", "PYTHONIOENCODING": "gbk"})
    out = proc.stdout.decode("gbk")
    assert expect in out, out
    assert "按回车键退出" in out
    logs = list(copy.glob("ducha-*.log"))
    assert len(logs) == 1 and expect in logs[0].read_text(encoding="utf-8")


def test_clerk_script_finds_workspace_beside_it(demo, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    shutil.copy(ROOT / "scripts" / "status.py", copy / "status.py")
    proc = subprocess.run([sys.executable, str(copy / "status.py"), "-r", "2021-04"], capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "报送截止" in proc.stdout.decode("utf-8")


def test_clerk_script_asks_when_no_workspace(tmp_path):
    script = tmp_path / "merge.py"
    shutil.copy(ROOT / "scripts" / "merge.py", script)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, input=b"\n", timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout.decode("utf-8")
    assert "请输入工作区文件夹路径" in out and proc.returncode == 2
