"""Importers: every kind of file Hotlead reads, each idempotent and atomic."""

from storage.importers.runner import ImportResult, Progress, import_table
from storage.importers.tables import TABLE_KINDS

__all__ = ["TABLE_KINDS", "ImportResult", "Progress", "import_table"]
