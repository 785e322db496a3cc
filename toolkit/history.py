"""A round among the year's rounds, as the writers show it: plain records, no pandas.

:mod:`toolkit.year` works them out from every merged round's results (with pandas, in a forked
child for a large round); the merge's own process only receives them, so it never imports pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .formatting import change_text


@dataclass(frozen=True)
class Change:
    """A percentage now and in the previous round (percentage points)."""

    round: str
    previous: str
    word: str  # 上月 or 上轮
    now: Decimal
    before: Decimal

    @property
    def points(self) -> Decimal:
        return self.now - self.before

    def text(self) -> str:
        """``较上月提高2.5个百分点`` / ``较上月下降1个百分点`` / ``与上月持平``."""
        return change_text(self.points, self.word)


@dataclass(frozen=True)
class Streak:
    """An item that has lagged ``rounds`` rounds in a row, up to and including this one."""

    code: str
    unit: str
    rounds: int
    word: str  # 月 or 轮
    since: str  # the first round of the run

    def text(self) -> str:
        """``连续3月滞后``; '' for a first round of lagging."""
        return f"连续{self.rounds}{self.word}滞后" if self.rounds > 1 else ""
