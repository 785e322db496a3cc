"""The fast writers write exactly what the writers wrote before they were made fast.

``tests/expected/outputs.json`` holds the digest (tests/output_digest.py) of the five outputs
of two standings built in code, written by the writers as they were on main before the
speed work (every cell's value and look, merges, widths, heights, outline levels,
conditional formats, print set-up; the report's paragraphs and tables; results.csv).
After an intended change of the outputs: ``python -m tests.output_digest --update``.
"""

from __future__ import annotations

import json

import pytest

from tests.output_digest import EXPECTED, outputs_digest, standings

KEYS = ("summary", "ledger", "check", "report", "csv")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    out = {}
    for name, standing in standings().items():
        folder = tmp_path_factory.mktemp(name)
        out[name] = outputs_digest(standing, folder)
    return out


def _first_difference(want, got, path: str = "") -> str:
    if type(want) is not type(got):
        return f"{path}: {want!r} != {got!r}"
    if isinstance(want, dict):
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                return _first_difference(want.get(key), got.get(key), f"{path}.{key}")
    if isinstance(want, list):
        for i, (a, b) in enumerate(zip(want, got, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
        if len(want) != len(got):
            return f"{path}: {len(want)} items != {len(got)}"
    return f"{path}: {want!r} != {got!r}"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("name", ["small", "big"])
def test_outputs_unchanged(name, key, expected, written):
    want, got = expected[name][key], written[name][key]
    if key in ("summary", "ledger", "check"):  # name the sheet and cell that differ
        styles_want, styles_got = want["styles"], got["styles"]
        for sw, sg in zip(want["sheets"], got["sheets"], strict=False):
            cells_want = [[r, c, v, styles_want[s]] for r, c, v, s in sw["cells"]]
            cells_got = [[r, c, v, styles_got[s]] for r, c, v, s in sg["cells"]]
            assert cells_got == cells_want, f"{sw['name']}: " + _first_difference(cells_want, cells_got)
            rest_want = {k: v for k, v in sw.items() if k != "cells"}
            rest_got = {k: v for k, v in sg.items() if k != "cells"}
            assert rest_got == rest_want, f"{sw['name']}: " + _first_difference(rest_want, rest_got)
        assert [s["name"] for s in got["sheets"]] == [s["name"] for s in want["sheets"]]
        assert (got["active"], got["props"]) == (want["active"], want["props"])
    else:
        assert got == want, _first_difference(want, got)
