"""Daily data import from the bank's core-system extracts, and the matching export.

    specs      what each kind of file holds (columns, aliases, keys, references) — docs/IMPORT.md
    fields     cell parsers (money in 元 → 分 exactly, dates, codes, choices)
    readers    CSV (UTF-8 / UTF-8-BOM / GBK / GB18030, detected) and XLSX, streamed
    header     header → columns, strict
    staging    temp staging table, set-based checks, one upsert (COPY on PostgreSQL)
    org_tree   org levels, cycles and materialised paths
    importer   one file = one transaction; directories
    report     error report and per-file result
    export     the same formats back out
"""

from bot.imports.export import export_kind
from bot.imports.importer import files_of, import_file
from bot.imports.readers import FileProblem
from bot.imports.report import ErrorReport, ImportResult, RowError, read_report
from bot.imports.specs import KINDS, Kind, find_kind, kind_of_file

__all__ = ["KINDS", "ErrorReport", "FileProblem", "ImportResult", "Kind", "RowError", "export_kind", "files_of",
           "find_kind", "import_file", "kind_of_file", "read_report"]
