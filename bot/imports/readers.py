"""Stream a CSV or XLSX file as (row number, cells), without ever holding the file in memory.

Encoding is detected from the bytes (BOM, then strict UTF-8, then GB18030 — the superset of GBK
that Chinese core systems and Excel write), or declared. A file that is really an XLSX is read as
one whatever its name says. Row numbers are what a person sees in Excel: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SAMPLE_BYTES = 1 << 20
"""Detection looks at the first 1 MB: enough to meet the names in a customer file."""
ZIP_MAGIC = b"PK\x03\x04"
ENCODING_NAMES = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf8-sig": "utf-8-sig", "utf-8-bom": "utf-8-sig",
    "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030", "cp936": "gb18030",
}
"""GBK and GB2312 files are read as GB18030: the same bytes for every character they have."""


class FileProblem(Exception):
    """The whole file is unusable (encoding, header, emptiness): nothing of it is imported."""


def normalize_encoding(name: str) -> str:
    found = ENCODING_NAMES.get(name.strip().lower().replace("_", "-"))
    if found is None:
        raise FileProblem(f"不支持的编码 {name}：可用 utf-8、utf-8-sig、gbk、gb18030。Unsupported encoding.")
    return found


@dataclass
class Table:
    """An opened file: its header cells and a one-shot iterator over its data rows."""

    path: Path
    format: str  # csv | xlsx
    encoding: str | None
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    size: int
    """Bytes (CSV) or rows (XLSX, from the sheet's dimension; 0 when unknown) for the progress bar."""
    position: Callable[[], int]
    """How far reading has got, in the unit of `size`."""
    close: Callable[[], None]
    text: IO[str] | None = None
    """CSV only: the decoded stream after the header, which `rows` reads. The fast path (fastpath.py)
    reads it instead, in blocks of lines, with `rows` left untouched."""
    delimiter: str = ","


def open_table(path: Path, encoding: str | None = None) -> Table:
    if not path.is_file():
        raise FileProblem(f"文件不存在：{path}")
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if not head.strip():
        raise FileProblem(f"文件为空：{path.name}。Empty file.")
    if head.startswith(ZIP_MAGIC):
        return _open_xlsx(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise FileProblem(f"{path.name} 不是有效的 XLSX 文件。Not an XLSX file.")
    if path.suffix.lower() == ".xls":
        raise FileProblem(f"不支持旧版 Excel .xls：请另存为 .xlsx 或 CSV。{path.name}")
    return _open_csv(path, head, normalize_encoding(encoding) if encoding else detect_encoding(head, path.name))


def detect_encoding(head: bytes, name: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem(f"{name} 是 UTF-16 编码：请另存为 UTF-8 或 GBK 的 CSV。UTF-16 is not supported.")
    if b"\x00" in head:
        raise FileProblem(f"{name} 不是文本 CSV 文件（含二进制内容）。Not a CSV text file.")
    for candidate in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(candidate)().decode(head, final=len(head) < SAMPLE_BYTES)
            return candidate
        except UnicodeDecodeError:
            continue
    raise FileProblem(f"{name} 的编码无法识别（不是 UTF-8 也不是 GBK/GB18030）：请用 --encoding 指定。Unknown encoding.")


def _open_csv(path: Path, head: bytes, encoding: str) -> Table:
    raw = path.open("rb")
    size = path.stat().st_size
    text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError as exc:
        raw.close()
        raise FileProblem(f"{path.name} 第 1 行无法按 {encoding} 解码：{exc.reason}。Cannot decode.") from exc
    first = first.removeprefix("\ufeff")  # a BOM left by a declared utf-8
    delimiter = max((",", "\t", "|", ";"), key=first.count)
    header = next(csv.reader([first], delimiter=delimiter), [])
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for cells in reader:
                number += 1
                yield number, cells
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path.name} 约第 {number + 1} 行无法按 {encoding} 解码（{exc.reason}）：文件编码不一致或已损坏，"
                              f"请用 --encoding 指定。Cannot decode.") from exc
        except csv.Error as exc:
            raise FileProblem(f"{path.name} 第 {number + 1} 行 CSV 格式错误：{exc}。Malformed CSV.") from exc

    return Table(path, "csv", encoding, header, rows(), size, raw.tell, text.close, text, delimiter)


def _open_xlsx(path: Path) -> Table:
    try:
        from openpyxl import load_workbook  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise FileProblem("读取 XLSX 需要 openpyxl：pip install openpyxl") from exc
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileProblem(f"{path.name} 不是有效的 XLSX 文件：{exc}。Cannot read XLSX.") from exc
    sheet = book.worksheets[0]
    cells = sheet.iter_rows(values_only=True)
    first = next(cells, None)
    if first is None:
        book.close()
        raise FileProblem(f"文件为空：{path.name} 的第一个工作表没有内容。Empty sheet.")
    header = ["" if v is None else str(v) for v in first]
    while header and not header[-1].strip():
        header.pop()
    done = [1]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        for values in cells:
            number += 1
            done[0] = number
            yield number, ["" if v is None else v for v in values]

    try:
        total = int(sheet.max_row or 0)
    except (TypeError, ValueError):
        total = 0
    return Table(path, "xlsx", None, header, rows(), total, lambda: done[0], book.close)

