"""Exceptions that stop a run.

Bad data in a return is never an exception: it is a finding (see findings.py).
These are for what stops the command itself; the command line turns each into
one Chinese line ``错误：…`` and exit code 2, never a traceback.
"""

from __future__ import annotations


class DuchaError(Exception):
    """Base class: the message is Chinese and says what to do."""


class MasterWorkbookError(DuchaError):
    """The master workbook (任务台账) is missing or broken.

    ``problems`` lists every problem found, each naming sheet and cell.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class WorkspaceError(DuchaError):
    """The workspace folder is missing, not writable, or a round is unknown."""


class LockHeldError(DuchaError):
    """Another merge is running on the same workspace."""


class ReadError(DuchaError):
    """A spreadsheet could not be read; ``code`` is a findings.Code (F1xx)."""

    def __init__(self, code, detail: str = "", sheet: str = ""):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.sheet = sheet
