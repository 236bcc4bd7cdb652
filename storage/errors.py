"""The storage package's exception hierarchy; the CLI turns these into one clear line."""

from __future__ import annotations

from dataclasses import dataclass


class StorageError(Exception):
    """Base of every error the lead store raises on purpose."""


class SchemaError(StorageError):
    """The database has no Hotlead schema, or one of another version."""


class NotFoundError(StorageError):
    """A lead, account or rep named by the user does not exist."""


@dataclass(frozen=True)
class RowError:
    """One bad cell of an input file."""

    file: str
    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        where = self.row if self.row else "header"
        return f"{self.file}:{where}: column {self.column}: {self.problem}"


class ImportFileError(StorageError):
    """A file had bad rows, so nothing of it was written."""

    MAX_SHOWN = 20

    def __init__(self, file: str, errors: list[RowError], more: bool = False) -> None:
        self.file = file
        self.errors = errors
        self.more = more
        lines = [str(e) for e in errors[: self.MAX_SHOWN]]
        if more or len(errors) > self.MAX_SHOWN:
            lines.append(f"{file}: more bad rows not shown (first {self.MAX_SHOWN} listed)")
        lines.append(f"{file}: nothing was imported from this file")
        super().__init__("\n".join(lines))
