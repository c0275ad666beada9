"""Reading import files: CSV (any delimiter, quoted fields with newlines, UTF-8 with or without
BOM, UTF-16 with BOM, Latin-1 and Windows-1252) and XLSX (python-calamine, dates as dates).

CSV is streamed: rows are read one at a time from the file on disk, so memory stays the same
whatever the size. The encoding check reads the file in 1 MB chunks with an incremental
decoder. XLSX files are compressed XML; calamine holds one sheet's cells while reading it, which
the upload limit bounds.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

CHUNK = 1024 * 1024
SAMPLE = 64 * 1024
DELIMITERS = ",;\t|"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
PREVIEW_ROWS = 20
# Larger workbooks are streamed rather than read whole (see _xlsx_rows).
XLSX_IN_MEMORY_MAX_BYTES = 8 * 1024 * 1024
# csv's default field limit (128 KB) is lifted: a notes column may be long.
csv.field_size_limit(16 * 1024 * 1024)

_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word file; save it as .xlsx or CSV",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\x7fELF": "a program",
    b"MZ": "a Windows program",
}


class ImportFileError(ValueError):
    """The file cannot be imported; the message says why and what to do."""


def max_upload_bytes() -> int:
    return int(getattr(settings, "PATRON_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def check_size(size: int) -> None:
    limit = max_upload_bytes()
    if size > limit:
        raise ImportFileError(
            f"The file is {size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB. "
            "Split it into smaller files and import them one after the other."
        )


@dataclass
class FileInfo:
    kind: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""
    headers: list[str] = field(default_factory=list)
    sample: list[list[Any]] = field(default_factory=list)
    sheet: str = ""


def _unique_headers(raw: list[Any]) -> list[str]:
    headers: list[str] = []
    seen: dict[str, int] = {}
    for position, value in enumerate(raw, 1):
        text = str(value if value is not None else "").strip().lstrip("\ufeff")
        if not text:
            text = f"Column {position}"
        if text in seen:
            seen[text] += 1
            text = f"{text} ({seen[text]})"
        else:
            seen[text] = 1
        headers.append(text)
    while headers and headers[-1].startswith("Column ") and not raw[len(headers) - 1]:
        headers.pop()
    return headers


def detect_encoding(path: Path) -> str:
    """The encoding of a text file: utf-8-sig / utf-16 by BOM, else utf-8 if the whole file
    decodes, else windows-1252 or latin-1. Raises ImportFileError for binary files."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE)
    if not head.strip():
        raise ImportFileError("The file is empty: there is no header row and no data.")
    if head.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            "This is a zip file (perhaps an Excel workbook renamed .csv); upload it as .xlsx."
        )
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise ImportFileError(f"This is not a CSV file: it looks like {what}.")
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    else:
        encoding = "utf-8"
    if b"\x00" in head:
        raise ImportFileError(
            "This is not a text file (it contains NUL bytes): it may be a binary file renamed "
            ".csv, or UTF-16 without a byte-order mark. Save it as CSV UTF-8 and upload again."
        )
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if controls > len(head) // 100 + 2:
        raise ImportFileError(
            "This is not a text file: it is full of control characters. Upload a CSV or XLSX."
        )
    decoder = codecs.getincrementaldecoder(encoding)()
    saw_c1 = False
    utf8_ok = True
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
            if any(0x80 <= b <= 0x9F for b in chunk):
                saw_c1 = True
            if not utf8_ok and saw_c1:
                break
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            pass
    if not saw_c1:
        return "latin-1"
    # Bytes 0x80-0x9F are printable characters (€, “, ”, …) only in Windows-1252.
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if any(b in undefined for b in chunk):
                raise ImportFileError(
                    "The file's text encoding could not be recognised (it is not UTF-8, "
                    "Windows-1252 or Latin-1). Save it as CSV UTF-8 and upload again."
                )
    return "windows-1252"


def sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][:20]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, newline="", errors="strict")


def inspect_file(path: Path, file_name: str) -> FileInfo:
    """Reading options and headers of an uploaded file; ImportFileError if it can't be read."""
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError("The file is empty: there is no header row and no data.")
    check_size(size)
    with path.open("rb") as handle:
        head = handle.read(8)
    is_zip = head.startswith(b"PK\x03\x04")
    if file_name.lower().endswith((".xlsx", ".xlsm")) or (
        is_zip and not file_name.lower().endswith((".csv", ".txt", ".tsv"))
    ):
        return _inspect_xlsx(path)
    if file_name.lower().endswith(".xls"):
        raise ImportFileError("Old Excel files (.xls) are not read; save it as .xlsx or CSV.")
    encoding = detect_encoding(path)
    with _open_text(path, encoding) as text:
        sample_text = text.read(SAMPLE)
    delimiter = sniff_delimiter(sample_text)
    info = FileInfo(kind="csv", encoding=encoding, delimiter=delimiter)
    rows = iter_rows(path, info)
    try:
        first = next(rows, None)
        if first is None:
            raise ImportFileError("The file is empty: there is no header row and no data.")
        info.headers = _unique_headers(first[1])
        for _number, values in rows:
            info.sample.append(values)
            if len(info.sample) >= PREVIEW_ROWS:
                break
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV: {exc}.") from None
    except UnicodeDecodeError:
        raise ImportFileError(
            f"The file is not valid {encoding}; save it as CSV UTF-8 and upload again."
        ) from None
    if not info.sample:
        raise ImportFileError("The file has a header row but no data rows.")
    return info


def _inspect_xlsx(path: Path) -> FileInfo:
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
    except Exception as exc:
        raise ImportFileError(f"This is not a readable Excel (.xlsx) workbook: {exc}.") from None
    if not names:
        raise ImportFileError("The workbook has no sheets.")
    info = FileInfo(kind="xlsx", sheet=str(names[0]))
    rows = iter_rows(path, info)
    first = next(rows, None)
    if first is None:
        raise ImportFileError("The first sheet is empty: there is no header row and no data.")
    info.headers = _unique_headers(first[1])
    for _number, values in rows:
        info.sample.append(values)
        if len(info.sample) >= PREVIEW_ROWS:
            break
    if not info.sample:
        raise ImportFileError("The first sheet has a header row but no data rows.")
    return info


def _blank(values: list[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def iter_rows(path: Path, info: FileInfo) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) for every non-blank row, the header row first (number 1).

    Row numbers count records, not physical lines (a quoted field may span lines), so they
    are stable for resumption and name the row in error messages.
    """
    if info.kind == "xlsx":
        number = 0
        for cells in _xlsx_rows(path, info.sheet):
            values: list[Any] = list(cells)
            if _blank(values):
                continue
            number += 1
            yield number, [None if v == "" else v for v in values]
        return
    with _open_text(path, info.encoding or "utf-8") as text:
        reader = csv.reader(text, delimiter=info.delimiter or ",", strict=False)
        number = 0
        for line in reader:
            if _blank(line):
                continue
            number += 1
            yield number, line


def _xlsx_rows(path: Path, sheet_name: str) -> Iterator[Sequence[Any]]:
    """The sheet's rows. Calamine reads a workbook whole, which is fast but holds every cell
    in memory (about 100 MB per 200,000 rows of six columns), so workbooks over
    XLSX_IN_MEMORY_MAX_BYTES are streamed by openpyxl in read-only mode instead: many times
    slower, but its memory does not grow with the file."""
    if path.stat().st_size <= XLSX_IN_MEMORY_MAX_BYTES:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_path(str(path))
        yield from workbook.get_sheet_by_name(sheet_name or workbook.sheet_names[0]).iter_rows()
        return
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[sheet_name] if sheet_name else book.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def count_rows(path: Path, info: FileInfo) -> int:
    """Data rows in the file (header excluded), by streaming through it."""
    total = 0
    for total, _values in iter_rows(path, info):  # noqa: B007
        pass
    return max(0, total - 1)


def row_dict(headers: list[str], values: list[Any]) -> tuple[dict[str, Any], str]:
    """The row keyed by header, and an error when it has more values than the header has
    columns (a ragged row: data would be lost). Shorter rows are padded with empty cells."""
    error = ""
    if len(values) > len(headers):
        extra = [v for v in values[len(headers) :] if v not in (None, "")]
        if extra:
            error = (
                f"This row has {len(values)} values but the header has {len(headers)} columns; "
                "a value probably contains an unquoted delimiter. Quote it or remove the "
                "extra values."
            )
    return {h: (values[i] if i < len(values) else None) for i, h in enumerate(headers)}, error
