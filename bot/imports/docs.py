"""docs/IMPORT.md, rendered from the specs so the documented columns are the imported ones.

    python -m bot.imports.docs > docs/IMPORT.md

A test compares the file with this output, so a changed spec without regenerated docs fails CI.
"""

from __future__ import annotations

from bot.imports.specs import KINDS, Column, Kind

TYPES = {
    "code": "编号 code",
    "text": "文本 text",
    "date": "日期 date",
    "month": "月份 month",
    "datetime": "时间 datetime",
    "money": "金额（元）money",
    "int": "整数 int",
    "bool": "是/否 bool",
    "choice": "枚举 choice",
}

INTRO = """\
# 数据导入与导出 Data import and export

rmbot's data comes from the bank's nightly extracts (core banking, wealth, CRM). `rmbot import`
loads them; `rmbot export` writes the same formats back out, so export → import round-trips.
The synthetic bank (`rmbot seed`) is only for the demo.

```bash
rmbot import balances balances_20261120.csv                 # one file
rmbot import customers 客户信息_20261120.csv --encoding gbk  # encoding declared (else detected)
rmbot import balances /data/extracts/                       # every balances file in the folder, in name order
rmbot import all samples/                                   # every known file, kind by kind in dependency order
rmbot import holdings holdings.xlsx --errors bad-rows.csv --data-date 2026-11-20
rmbot import balances today.csv --dry-run                   # validate only: nothing is written
rmbot export balances --date 2026-11-20 --out balances.xlsx
rmbot export customers --encoding gbk --header zh --out 客户信息.csv
```

## Files

- **CSV**: UTF-8, UTF-8 with BOM, GBK or GB18030 — detected from the bytes (BOM, then strict UTF-8,
  then GB18030, the superset of GBK), or declared with `--encoding utf-8|utf-8-sig|gbk|gb18030`.
  The delimiter is `,` (also `\\t`, `|` or `;` when the header uses it). Quoted fields may hold
  commas and line breaks.
- **XLSX**: the first sheet, read in streaming mode. Number and date cells are fine; legacy `.xls`
  is not supported (save as `.xlsx` or CSV).
- **Header**: the first row. Column names in English or Chinese (any alias below), any order,
  case, width (全角/半角) and spaces ignored, a trailing `(元)` ignored. Optional columns may be
  left out. An unknown or repeated column fails the whole file — a misspelt optional column must
  not silently import zeros.
- **Row numbers** in messages are what Excel shows: the header is row 1, the first data row is
  row 2. Blank lines are skipped.
- **Money** is in 元 with at most two decimals (`323600.00`, `1,234.5`, `1.5E+07` all work),
  converted to integer 分 exactly; never negative; at most 1万亿元. More decimals are an error,
  not rounded.
- **Dates** `YYYY-MM-DD` (also `YYYYMMDD`, `YYYY/MM/DD`, `2026年11月20日`); **months** `YYYY-MM`,
  `YYYYMM` or any day of the month; **times** `YYYY-MM-DD HH:MM[:SS]`, Asia/Shanghai. Data dates,
  opening dates and contact times may not be in the future.
- **Ids** (客户号, 员工号, 机构号) are upper-cased and full-width folded, as chat lookups are;
  letters, digits, `-` and `_` only.

## What an import does

1. Whole-file problems — missing file, empty file, header only, wrong or missing header, unknown
   columns, an undecodable byte anywhere — stop the import with a message and change nothing
   (exit code 2).
2. Every row is parsed while the file streams (memory stays bounded by one chunk of rows, whatever
   the file size); a rich progress bar runs on stderr.
3. Bad rows are rejected, each problem a line of the **error report** (CSV, UTF-8 with BOM so Excel
   shows the Chinese): `文件 file, 行号 row, 列 column, 值 value, 原因 reason`. Checked: required
   cells, types, ranges, dates, cross-column rules (deposit ≤ AUM, maturity ≥ start), references to
   unknown orgs, staff and customers (set-based, against the database and, for the org tree, the
   file itself), and keys repeated within the file (the first row wins). The report goes to
   `--errors FILE` (always written when given) or `import-errors-<kind>-<time>.csv` in the current
   folder when there are errors.
4. The good rows are **upserted by their business key** (below): new rows inserted, changed rows
   updated, identical rows left untouched — importing the same file twice changes nothing.
5. A `data_load` row records the kind, the **data date**, the file name and the rows accepted; the
   data date is what answers show (`/tier` shows the newest). It is `--data-date`, else the newest
   date in the file's date column, else a `YYYYMMDD` in the file name, else the current data date
   (reference files — orgs, staff, customers — do not move it), else yesterday.
6. **A new balance date must be complete to count.** A balance file for a date newer than the
   current data date is measured against the previous data date: distinct customers with a
   balance row on the new date ÷ distinct customers with one on the previous date (two counts on
   the indexed `as_of`). At or above the policy's `imports.complete_coverage` (default **95%**:
   normal account openings and closings pass, a truncated or half-delivered file does not) the
   date becomes current. Below it the rows are kept but the date is recorded as **partial** in
   `data_day`: every answer, push and campaign stays on the previous data date, and the import
   warns (`警告 Warning: 2026-11-21 余额覆盖 1 / 379 户 = 0.3%（上一数据日期 2026-11-20，要求 ≥ 95%），
   数据不完整：已保存但暂不作为数据日期…`) and exits **3**. Importing the missing rows for the same
   date (a top-up file) measures again and promotes the date once complete;
   `--allow-partial` makes a partial date current anyway, recorded as `allowed` in `data_day`
   with its counts. `--dry-run` shows the same check and keeps nothing.
7. A summary is printed; exit code 0 if every row was imported, **1 if any row was rejected** (the
   good rows are in), 2 for a whole-file problem, **3 if a new balance date was kept partial**
   (above; takes precedence over 1), 130 when interrupted.

**One transaction per file**: a file lands completely (its good rows) or not at all — a database
error, a full disk or Ctrl-C half-way leaves the database exactly as it was before that file. In a
directory, files already imported stay imported; the first whole-file problem stops the run.

### Directories

`rmbot import <kind> <dir>` imports the files of that kind, in name order; `rmbot import all <dir>`
imports every recognised file, kind by kind in the order of this document (orgs before staff
before customers …). A file's kind is the longest matching prefix of its name (`.csv`, `.txt`,
`.xlsx`): {prefixes}.

### Speed

**The canonical fast path.** Most cells of a core-system extract are already written the way rmbot
stores them: `C0000001`, `2026-11-20`, `323600.00`. For CSV files of `balances`, `aum_monthly`
and `corporate_monthly`, such rows skip the Python parsers:

1. The file is read in blocks of lines (same decoder, same `csv` module as always). One regular
   expression per file layout, built from each column's *canonical form*, checks a whole block at
   once: ids already upper-case ASCII of the right shape and length; amounts plain digits with at
   most two decimals and at most 12 digits of 元 (so within the 1万亿元 bound); integers plain
   digits. A block where every line matches goes into a temporary text table as it is
   (PostgreSQL: `COPY`; SQLite: batched inserts); other blocks are split record by record, each
   record marked canonical or not.
2. In SQL: dates and months are checked against the file's few distinct values, each parsed once
   by the date parser itself (so `2026/11/20` and `20261120` are fast too, and "not in the future"
   is the parser's decision); integer ranges and row rules (deposit ≤ AUM) are checked on the
   converted values; amounts become 分 by string arithmetic — the digits without the decimal
   point, times 100, 10 or 1 — never through floating point.
3. The canonical rows go into the target (or the staging table) with one `INSERT … SELECT`. Only
   the other rows come back to Python, a chunk at a time, through the parsers — so their values
   and error messages, and the file's counts, data date and exit code, are exactly what they
   would be without the fast path (a property test compares the two on generated files, on both
   databases). A file the fast reader cannot read (an undecodable byte, malformed CSV) is read
   again the usual way, which reports the problem word for word as before.

XLSX files and the other kinds always go through the parsers.

**A new data date** — the nightly case — is written straight into `balance`, not staged:

- SQLite: from the temporary table with one `INSERT … SELECT` (under a savepoint).
- PostgreSQL: rows are parsed while streamed into `balance` with binary `COPY`. There the
  server's insert into the indexed, WAL-logged table takes longer than the parsing, which runs
  beside it on another core; the raw-table route measured slower (one more pass, and an
  `INSERT … SELECT` is no faster than `COPY`). The fast path still serves re-sent days and the
  monthly kinds on PostgreSQL.

Anything unusual — a key already stored (a re-sent day), a key repeated in the file, an unknown
customer — rolls that back (a savepoint) and the careful way takes over, as every other kind
always does: rows staged in a temporary table (from the raw table when there is one, without
reading the file again), checked with a few joins over the whole file, and written with one
`INSERT … SELECT … ON CONFLICT … DO UPDATE` that leaves identical rows untouched.

On PostgreSQL the per-row foreign-key triggers (about 10 µs a row, most of a large load) are
skipped when the role may set `session_replication_role` and the table has no triggers of its
own: the references are checked set-based instead, and the referenced tables are locked `SHARE`
until the commit so they cannot change in between. Grant that parameter only to a separate
import role, never to the role the bot runs as (replica mode switches off every table's foreign
keys for the transaction): on PostgreSQL 15+ `GRANT SET ON PARAMETER session_replication_role TO
rmbot_import;` with `rmbot_import` a member of the app role — see docs/SECURITY.md, "PostgreSQL
roles" (`rmbot db grants --import-role rmbot_import`). The audit log's triggers fire ALWAYS, so
replica mode does not reach them. Without that grant (the app role) the import is the same, only
slower.

Figures: BENCHMARKS.md (`python -m bench.import_bench`). Besides the loaders into a plain table,
the bench measures the loader straight into `balance` (amounts converted beforehand, no key
checks): inserting a million rows into the real, indexed table alone costs about twice a
plain-table load, on both databases, so "within 2× of `\\copy` / `.import` into a plain table" is
out of reach for any import that writes to `balance`; the bench reports the ratio to that floor.

### Export

`rmbot export <kind> [--out file.csv|file.xlsx] [--encoding utf-8|utf-8-sig|gbk|gb18030]
[--header en|zh] [--date YYYY-MM-DD]` writes the columns below in this order (CSV to stdout without
`--out`); `--header zh` writes the Chinese names and labels (`个人`, `是`), `--date` keeps one data
date (or its month) of balances, monthly figures and contacts. `gbk` is written as GB18030, which
is byte-identical for every GBK character and never fails on rare ones (生僻字).

**No live formulas (CSV injection).** Every file rmbot writes for a spreadsheet (exports, campaign
audiences, error reports) goes through one cell layer (`bot/exports/cells.py`): a text cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return — or with a `'` — is written with a
`'` in front (OWASP), so Excel, WPS and LibreOffice show `'=HYPERLINK(…)` as text, and XLSX text
is always a string cell, never a formula. Numbers are left alone (money stays a number, `-12.50`
too). The import takes exactly that one `'` off again (`'=1+2` → `=1+2`, `''abc` → `'abc`; any
other cell, `'abc` included, is read as it is), so export → import gives back the original values.

**Every export is audited before its first row** (`bot/exports/audit.py`): who (the OS account
and host, and `--as` staff), the kind, where to (the file's absolute path or `stdout`), the
columns, and every customer number the file holds, in full, committed before anything is
written; an export cut short (`| head`, a full disk) adds a row with outcome `error`.

## Kinds
"""

NOTES = """
## Known limits

- Holdings are keyed by the core system's numeric holding id (1 … 2³¹−1): the `holding` table has
  no text business key yet. Holdings missing from a later file are not deleted (imports never
  delete): send matured or closed holdings with their maturity date.
- Contacts have no unique key in the store: a contact is the same when customer, staff, time (to
  the second) and channel match; a matching row has its outcome, ref and note updated.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def column_row(col: Column) -> str:
    aliases = ", ".join(f"`{a}`" for a in col.aliases) or "—"
    if col.required:
        need = "必填 required"
    elif col.default is not None:
        need = f"可选，默认 `{_default(col)}`"
    else:
        need = "可选 optional"
    return (f"| `{col.name}` | {col.zh} | {aliases} | {TYPES[col.kind]} | {need} | `{col.example}` | "
            f"{_cell(col.doc)} |")


def _default(col: Column) -> str:
    if col.kind == "money":
        return "0"
    if col.kind == "bool":
        return "是" if col.default else "否"
    return str(col.default)


def kind_section(kind: Kind) -> str:
    key = ", ".join(f"`{next(c.name for c in kind.columns if c.target == k)}`" for k in kind.key)
    lines = [
        f"### `{kind.name}` — {kind.zh}",
        "",
        kind.doc,
        "",
        f"Business key: {key}. Table `{kind.table}`. File names: " + ", ".join(f"`{p}…`" for p in kind.prefixes) + ".",
        "",
        "| column | 中文列名 | also accepted | type | required | example | notes |",
        "|---|---|---|---|---|---|---|",
        *(column_row(c) for c in kind.columns),
        "",
        "```csv",
        ",".join(c.name for c in kind.columns),
        ",".join(_csv_example(c) for c in kind.columns),
        "```",
        "",
    ]
    return "\n".join(lines)


def _csv_example(col: Column) -> str:
    return f'"{col.example}"' if "," in col.example else col.example


def render() -> str:
    prefixes = "; ".join(f"{k.name} ← " + ", ".join(f"`{p}`" for p in k.prefixes) for k in KINDS.values())
    body = "\n".join(kind_section(k) for k in KINDS.values())
    return INTRO.replace("{prefixes}", prefixes) + "\n" + body + NOTES


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
