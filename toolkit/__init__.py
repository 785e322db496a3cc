"""ducha (督查): a supervision office's reporting round, end to end."""

__version__ = "0.1.0"
