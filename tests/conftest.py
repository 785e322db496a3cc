"""Shared fixtures: the demo workspace is built once per test session."""

from __future__ import annotations

import pytest

from toolkit.demo import run_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The finished demo (rounds 2021-03 and 2021-04 merged); tests must not modify it."""
    return run_demo(tmp_path_factory.mktemp("demo") / "ws")
