"""Errors a researcher can act on: where (file, row, column or parameter), what was wrong,
and what to do about it."""

from __future__ import annotations


class PipelineError(Exception):
    """Base for every error the pipeline raises on purpose."""


class InputError(PipelineError):
    """A problem with an input file that stops the run (structure, not a single row)."""

    def __init__(self, file: str, problem: str, fix: str, row: int | None = None, column: str | None = None):
        self.file, self.problem, self.fix, self.row, self.column = file, problem, fix, row, column
        where = file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}. {fix}")


class ParameterError(PipelineError, ValueError):
    """A notebook parameter with a wrong value; the message lists the valid values."""

    def __init__(self, name: str, value: object, problem: str, valid: str | None = None):
        self.name, self.value = name, value
        message = f"parameter '{name}' = {value!r}: {problem}"
        if valid:
            message += f". Valid values: {valid}"
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        """IPython (a notebook, papermill) shows this instead of the traceback: the message is
        what a researcher acts on, and the frames inside the package would bury it."""
        return [f"{type(self).__name__}: {self}"]


class DownloadError(PipelineError):
    """A default download failed (typically offline); the message says which variable to set."""
