"""Time write_feedback per file, the XML fast path against openpyxl (issue 11).

    python scripts/bench_feedback.py /tmp/ducha-bench/n200-…/ws 2021-04 [--files 50]

Checks the round's inbox (toolkit.pool.examine, with the
merge's context), takes ``--files`` of them (those with findings first), then writes each
marked-up copy both ways and prints CPU ms per file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit import feedback  # noqa: E402
from toolkit.feedback import package  # noqa: E402
from toolkit.pool import examine  # noqa: E402
from toolkit.snapshot import RoundContext  # noqa: E402
from toolkit.workspace import Workspace  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("round")
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args(argv)
    ws = Workspace(args.workspace)
    registry = ws.registry()
    rnd = ws.pick_round(registry, args.round, date.today())
    ctx = RoundContext(ws, registry, rnd)
    checked = [(path, examine(path, ctx)[0]) for path in sorted(ws.inbox(rnd.name).glob("*.xls*"))]
    # the merge marks up only the returns with findings: those first, then others up to --files
    jobs = sorted(checked, key=lambda job: not job[1].findings)[:args.files]
    print(f"{len(jobs)} files, {sum(bool(o.findings) for _p, o in jobs)} with findings, "
          f"{sum(len(o.findings) for _p, o in jobs)} findings")

    def fallback(*_a, **_k):
        raise package._Unsupported("bench")

    fast = feedback.write_marked_package
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("package", "openpyxl"):
            feedback.write_marked_package = fast if label == "package" else fallback  # type: ignore[assignment]
            before = dict(feedback.PATHS)
            start = time.process_time()
            for path, outcome in jobs:
                feedback.write_feedback(path, outcome, Path(tmp) / label, round_name=rnd.name)
            spent = time.process_time() - start
            ran = {k: v - before.get(k, 0) for k, v in feedback.PATHS.items() if v != before.get(k, 0)}
            print(f"{label:9s} {1000 * spent / len(jobs):7.1f} ms CPU per file  ({ran})")
    feedback.write_marked_package = fast  # type: ignore[assignment]
    return 0


if __name__ == "__main__":
    sys.exit(main())
