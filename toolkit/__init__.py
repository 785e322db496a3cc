"""ducha (督查): a supervision office's reporting round, end to end.

The year's data are reachable from Python as pandas DataFrames (see :mod:`toolkit.year`)::

    import toolkit
    results = toolkit.year_results("2021")   # every merged round of the workspace

They are loaded on first use, so that ``import toolkit`` (and the command line) does not
import pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Names served lazily from submodules: name -> module.
_LAZY = {
    name: "year"
    for name in ("year_results", "round_results", "year_units", "year_findings", "results_frame", "merged_rounds",
                 "indicator_changes", "category_progress", "lag_streaks", "trends", "as_float")
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
