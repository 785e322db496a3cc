"""Wall time and peak memory of each step of one merge, for maintainers.

    python scripts/merge_phases.py WORKSPACE [-r 2021-04] [--now "2021-05-13 09:00"] [--keep DIR]

The workspace is copied first (to a temporary folder, or ``--keep``) and the copy merged, so the
original is never touched; on a generated workspace that `scripts/bench_merge.py` caches
(``$TMPDIR/ducha-bench/n2000-…/ws``, nothing merged yet) this times a first merge.
Each line: the step, its wall seconds, the time since the start, and the merge process's peak
RSS so far. A step run in a forked child (the year's history for a large round) prints from
the child, with the child's peak. Not a benchmark (no baseline): see docs/performance.md.
"""

from __future__ import annotations

import argparse
import functools
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolkit.merge as merge  # noqa: E402
import toolkit.workspace as workspace  # noqa: E402

STEPS = ("_context", "_cache", "_read_all", "_judge_round", "year_history", "_archive", "_feedback",
         "_record_intake", "_standing_fingerprint", "_outputs_digest", "write_outputs")
START = time.perf_counter()


def _peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _timed(owner: object, name: str) -> None:
    func = getattr(owner, name)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            now = time.perf_counter()
            print(f"{name.lstrip('_'):16s} {now - began:7.2f} 秒  （开始后 {now - START:7.2f} 秒）"
                  f"  峰值内存 {_peak_mib()} MiB", flush=True)

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description="一次合并各步骤的耗时和内存峰值（维护者用）")
    parser.add_argument("workspace", type=Path)
    parser.add_argument("-r", "--round", default="2021-04")
    parser.add_argument("--now", default="2021-05-13 09:00")
    parser.add_argument("--keep", type=Path, help="复制到此文件夹并保留（默认用临时文件夹）")
    args = parser.parse_args()
    for name in STEPS:
        _timed(merge, name)
    _timed(workspace.Workspace, "registry")
    _timed(workspace.Workspace, "save_entries")
    with tempfile.TemporaryDirectory(prefix="ducha-phases-") as scratch:
        target = args.keep or Path(scratch) / "ws"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.workspace, target)
        began = time.perf_counter()
        merge.run_merge(workspace.Workspace(target), args.round,
                        now=datetime.strptime(args.now, "%Y-%m-%d %H:%M"), log=lambda _line: None)
        print(f"{'合计':16s} {time.perf_counter() - began:7.2f} 秒  峰值内存 {_peak_mib()} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
