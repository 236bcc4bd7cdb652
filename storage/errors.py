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
    """One bad cell of an input file; row 0 is the header, and row 0 with no column is the whole file."""

    file: str
    row: int
    column: str
    problem: str

    @property
    def whole_file(self) -> bool:
        """True for problems of the file as a whole (empty, a folder, not text…)."""
        return not self.row and not self.column

    def __str__(self) -> str:
        if self.whole_file:
            return f"{self.file}: {self.problem}"
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
        if not all(e.whole_file for e in errors):  # "the file is empty" needs no "nothing was imported"
            lines.append(f"{file}: nothing was imported from this file")
        super().__init__("\n".join(lines))

    @classmethod
    def whole(cls, file: str, problem: str) -> ImportFileError:
        """A problem of the file as a whole, printed as `FILE: problem`."""
        return cls(file, [RowError(file, 0, "", problem)])
