"""Import files: where they are kept, how big they may be, and reading them as rows with
constant memory (CSV through the csv module over a decoding text wrapper, XLSX through
openpyxl's read-only mode).

A file that cannot be read as a table raises `FileProblem` with a code and a message a
user can act on: wrong encoding (with the byte offset), binary or non-tabular content,
an old .xls, an empty file.
"""

import codecs
import csv
import datetime
import io
import os
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

SNIFF_BYTES = 64 * 1024
MAX_COLUMNS = 500
MAX_CELL_CHARS = 128 * 1024
# A physical line longer than this (no line break in 16 Mi characters) is no CSV row: it is
# refused before it is read whole into memory.
MAX_LINE_CHARS = 16 * 1024 * 1024
DELIMITERS = ",;\t|"
_XLSX_MAX_ROWS = 1_048_576
# An XLSX is a zip of XML: its parts are judged before anything unpacks them. Deflate packs
# real sheets 5-50 times; a part packed far more is a zip bomb (300 MB of blanks in 300 KB).
XLSX_MAX_PARTS = 5000
XLSX_MAX_RATIO = 100
XLSX_RATIO_FROM = 4 * 1024 * 1024  # smaller parts are not judged by their ratio
# Reading the header and the first rows (the worker's `import_job_read`) has a budget of its
# own: settings.RAPPORT_IMPORT_XLSX_HEADER_SECONDS, and this many unpacked bytes.
SNIFF_XLSX_BYTES = 256 * 1024 * 1024

# What people save by mistake instead of a table, by its first bytes.
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"SQLite format 3", "a SQLite database"),
)


class FileProblem(Exception):
    """The file cannot be imported as it is; `code` tells which problem it has."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def import_dir() -> Path:
    """Where uploaded files are kept (settings.RAPPORT_IMPORT_DIR)."""
    path = Path(settings.RAPPORT_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(settings.RAPPORT_IMPORT_MAX_BYTES)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def too_large_message(limit: int) -> str:
    return f"The file is larger than the import limit of {human_size(limit)}"


def new_upload_path(original_name: str) -> Path:
    suffix = Path(original_name).suffix.lower()[:8] if original_name else ""
    if not suffix.isascii() or not suffix[1:].isalnum():
        suffix = ""
    return import_dir() / f"{uuid.uuid4().hex}{suffix}"


class LimitedUploadHandler(FileUploadHandler):
    """Streams the multipart field `file` straight into the import directory, counting
    bytes: past the limit it stops at once (nothing kept, `too_large` set). Other file
    fields are dropped without being stored."""

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = limit if limit is not None else max_bytes()
        self.received = 0
        self.too_large = False
        self.path: Path | None = None
        self.original_name = ""
        self._out = None
        self._mine = False
        self.preparsed = False

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, *a):
        super().new_file(field_name, file_name, content_type, content_length, charset, *a)
        self._mine = field_name == "file" and self.path is None
        if self._mine:
            self.original_name = os.path.basename(file_name or "")[:255]
            self.path = new_upload_path(self.original_name)
            self._out = open(self.path, "wb")  # noqa: SIM115 - closed in file_complete/abort

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            self.discard()
            # Read the rest of the body without keeping it, so that the client gets the
            # 413 answer rather than a reset connection.
            raise StopUpload(connection_reset=False)
        if self._mine and self._out is not None:
            self._out.write(raw_data)
        return None  # never handed to Django's memory/temporary-file handlers

    def file_complete(self, file_size):
        if self._mine and self._out is not None:
            self._out.close()
            self._out = None
        self._mine = False
        return None

    def upload_interrupted(self):
        self.discard()

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


# Multipart framing around the file: a request this much over the limit is refused unread.
_MULTIPART_SLACK = 64 * 1024


def _no_file() -> ValidationError:
    return ValidationError(
        {
            "file": [
                ValidationError(
                    "No file in the field 'file': choose a CSV or XLSX file", code="required"
                )
            ]
        }
    )


def start_upload(request) -> "LimitedUploadHandler | None":
    """Put the size-limited handler in place before anything reads the request body (a
    view checking CSRF itself must call this first). None: the request is already larger
    than the limit (refuse it unread); ValidationError: not a multipart form."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValidationError(
            {
                "file": [
                    ValidationError(
                        "Send the file as multipart/form-data in the field 'file'",
                        code="multipart_required",
                    )
                ]
            }
        )
    limit = max_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + _MULTIPART_SLACK:
        return None
    handler = LimitedUploadHandler(request, limit)
    try:
        request.upload_handlers = [handler]
    except AttributeError:
        # The body was parsed before (a CSRF check reading the form): the file went
        # through Django's own handlers; finish_upload copies it with the same limit.
        handler.preparsed = True
    return handler


def finish_upload(request, handler: "LimitedUploadHandler") -> tuple[Path, str] | None:
    """(path, original name) of the multipart field `file` once the body is read, stored
    in the import directory; None when it was too large (nothing kept)."""
    if handler.preparsed:
        return _copy_parsed(request, handler.limit)
    request.POST  # noqa: B018 - parses the body through the handler
    if handler.too_large:
        handler.discard()
        return None
    if handler.path is None:
        raise _no_file()
    return handler.path, handler.original_name


def receive_upload(request) -> tuple[Path, str] | None:
    """start_upload then finish_upload: (path, original name), or None when too large."""
    handler = start_upload(request)
    return None if handler is None else finish_upload(request, handler)


def _copy_parsed(request, limit: int) -> tuple[Path, str] | None:
    uploaded = request.FILES.get("file")
    if uploaded is None:
        raise _no_file()
    if uploaded.size > limit:
        return None
    path = new_upload_path(uploaded.name or "")
    with open(path, "wb") as out:
        for chunk in uploaded.chunks():
            out.write(chunk)
    return path, (uploaded.name or "")[:255]


# ----- sniffing ---------------------------------------------------------------------------


@dataclass
class FileShape:
    """What the first bytes say: format, encoding, delimiter, header and a few rows."""

    file_format: str
    encoding: str = ""
    delimiter: str = ""
    headers: list[str] = field(default_factory=list)
    preview: list[list[str]] = field(default_factory=list)


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES)


def _detect_bom(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _refuse_non_tabular(head: bytes) -> None:
    if not head:
        raise FileProblem("The file is empty", "empty_file")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            "This is an old Excel (.xls) file: save it as .xlsx or CSV and upload that",
            "unsupported_xls",
        )
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise FileProblem(f"This file is {what}, not a CSV or XLSX table", "not_tabular")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:5].lower() in (b"<?xml", b"<!doc", b"<html") or stripped[:1] in (b"{", b"["):
        what = "JSON" if stripped[:1] in (b"{", b"[") else "XML/HTML"
        raise FileProblem(f"This file is {what}, not a CSV or XLSX table", "not_tabular")


def _line_of(path: Path | None, offset: int) -> int:
    """The 1-based line holding byte `offset` (read again only when reporting an error)."""
    if path is None:
        return 0
    line, done = 1, 0
    with open(path, "rb") as f:
        while done < offset:
            chunk = f.read(min(1024 * 1024, offset - done))
            if not chunk:
                break
            line += chunk.count(b"\n")
            done += len(chunk)
    return line


def _decode_error_message(
    exc: UnicodeDecodeError, offset: int, encoding: str, path: Path | None = None, line: int = 0
) -> str:
    bad = exc.object[exc.start : exc.start + 1].hex().upper()
    line = line or _line_of(path, offset)
    where = f"byte 0x{bad} at byte offset {offset}" + (f" (line {line})" if line else "")
    if encoding in ("utf-8", "utf-8-sig"):
        return (
            f"The file is not valid UTF-8: {where}. Save it as UTF-8, or choose its "
            "encoding (for example cp1252 or latin-1) and upload it again"
        )
    return f"The file cannot be read as {encoding}: {where}. Choose the right encoding"


def normalise_encoding(name: str) -> str:
    """The text encoding's canonical name, or FileProblem for an unknown one or a codec that
    is not a text encoding (zlib, bz2, base64, hex, rot13, punycode …: they would unpack or
    transform the upload instead of decoding it)."""
    try:
        info = codecs.lookup(name.strip())
    except (LookupError, AttributeError, TypeError, ValueError):
        raise FileProblem(f"Unknown encoding {name[:40]!r}", "unknown_encoding")
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FILE_ENCODINGS:
        raise FileProblem(
            f"{name[:40]!r} is not a text encoding: choose one such as utf-8, cp1252 or latin-1",
            "unknown_encoding",
        )
    return info.name


# Text codecs all the same, but not ones a file is written in: "undefined" refuses every
# byte, punycode and idna are for host names, the escape codecs read backslashes.
_NOT_FILE_ENCODINGS = {
    "undefined",
    "punycode",
    "idna",
    "unicode-escape",
    "raw-unicode-escape",
    "mbcs",
    "oem",
}


def _choose_encoding(head: bytes, chosen: str | None) -> str:
    bom = _detect_bom(head)
    if bom:
        return bom
    if chosen:
        return normalise_encoding(chosen)
    return "utf-8"


def _sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # probably cut in the middle
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    # The Sniffer gives up on single-column files and irregular quoting: count instead.
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def unique_headers(raw: list) -> list[str]:
    """Header labels as the mapping knows them: trimmed, blanks named after their column,
    repeats numbered ("Email", "Email (2)")."""
    out: list[str] = []
    seen: set[str] = set()
    for i, value in enumerate(raw):
        label = cell_text(value).strip()[:200] or f"Column {i + 1}"
        base, n = label, 1
        while label in seen:
            n += 1
            label = f"{base} ({n})"
        seen.add(label)
        out.append(label)
    return out


def xlsx_check(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to too much, before any is unpacked: the
    sizes the zip declares bound what unpacking yields (zipfile stops there)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileProblem(
            f"This is a zip file but not a readable XLSX workbook ({type(exc).__name__})",
            "not_tabular",
        )
    if len(parts) > XLSX_MAX_PARTS:
        raise FileProblem(
            f"The workbook has {len(parts)} parts; at most {XLSX_MAX_PARTS} are read",
            "xlsx_too_large",
        )
    total = 0
    for part in parts:
        total += part.file_size
        if part.file_size > XLSX_RATIO_FROM and part.file_size > XLSX_MAX_RATIO * max(
            part.compress_size, 1
        ):
            raise FileProblem(
                f"The workbook's part {part.filename[:100]} would unpack to "
                f"{human_size(part.file_size)} from {human_size(part.compress_size)} (more "
                f"than {XLSX_MAX_RATIO} times): refused as a possible zip bomb. Save the "
                "sheet again, or as CSV, and upload that",
                "xlsx_bomb",
            )
    limit = int(settings.RAPPORT_IMPORT_MAX_XLSX_UNPACKED)
    if total > limit:
        raise FileProblem(
            f"The workbook would unpack to {human_size(total)}; at most {human_size(limit)} "
            "are read. Split it, or save it as CSV",
            "xlsx_too_large",
        )


class _Budget:
    """Time and unpacked bytes a reading may spend; past either, FileProblem."""

    def __init__(self, seconds: float, max_bytes: int):
        self.deadline = time.monotonic() + seconds
        self.left = max_bytes

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0 or time.monotonic() > self.deadline:
            raise FileProblem(
                "The workbook's header and first rows could not be read within the limit "
                "(its sheet is padded or too large): save it again, or as CSV, and upload that",
                "xlsx_too_slow",
            )


def _header_budget() -> _Budget:
    return _Budget(float(settings.RAPPORT_IMPORT_XLSX_HEADER_SECONDS), SNIFF_XLSX_BYTES)


class _BudgetPart:
    """A part of the zip whose reads are charged to a budget."""

    def __init__(self, part, budget: _Budget):
        self._part = part
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self._part.read(size)
        self._budget.spend(len(data))
        return data

    def read1(self, size: int = -1) -> bytes:
        data = self._part.read1(size)
        self._budget.spend(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._part, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._part.close()

    def __iter__(self):
        return iter(self.readline, b"")


class _BudgetZip(zipfile.ZipFile):
    budget: _Budget

    def open(self, name, mode="r", pwd=None, *, force_zip64=False):
        part = super().open(name, mode, pwd, force_zip64=force_zip64)
        return _BudgetPart(part, self.budget) if mode == "r" else part


def sniff(path: Path, *, encoding: str | None = None) -> FileShape:
    """Detect the format (CSV or XLSX by content, not by name), the encoding and the
    delimiter, and read the header and the first rows. Raises FileProblem. Only the worker
    calls it (never a web request): a workbook is checked first, then read within a budget
    of time and bytes."""
    head = _head(path)
    _refuse_non_tabular(head)
    if head.startswith(b"PK\x03\x04"):
        shape = FileShape(file_format="xlsx")
        reader = XlsxReader(path, budget=_header_budget())
    else:
        enc = _choose_encoding(head, encoding)
        if b"\x00" in head and enc != "utf-16":
            raise FileProblem("This looks like a binary file, not a CSV or XLSX table", "binary")
        sample = _decode_sample(head, enc)
        shape = FileShape(file_format="csv", encoding=enc, delimiter=_sniff_delimiter(sample))
        reader = CsvReader(path, encoding=enc, delimiter=shape.delimiter)
    rows = reader.rows()
    try:
        header = next(rows, None)
        if header is None:
            raise FileProblem("The file is empty", "empty_file")
        shape.headers = unique_headers(header[1])
        if len(shape.headers) > MAX_COLUMNS:
            raise FileProblem(
                f"The file has {len(shape.headers)} columns; at most {MAX_COLUMNS} are read",
                "too_many_columns",
            )
        for _, cells in rows:
            shape.preview.append([cell_text(c)[:200] for c in cells[: MAX_COLUMNS + 1]])
            if len(shape.preview) == 5:
                break
    finally:
        reader.close()
    return shape


def _decode_sample(head: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        # final=False: a character cut by the end of the sample is not an error.
        return decoder.decode(head, final=len(head) < SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        offset = exc.start - (len(exc.object) - len(head))
        line = head[:offset].count(b"\n") + 1
        raise FileProblem(_decode_error_message(exc, offset, encoding, line=line), "bad_encoding")


# ----- reading rows -----------------------------------------------------------------------


def cell_text(value) -> str:
    """A cell as text: integral floats without '.0' (postal codes, phone numbers typed as
    numbers in a spreadsheet), dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.time() else str(value.date())
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _bounded_lines(text) -> Iterator[str]:
    """The lines of `text`, each read with a bound: memory stays flat whatever the file."""
    number = 0
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise FileProblem(
                f"Line {number} is longer than {MAX_LINE_CHARS:,} characters without a line "
                "break: this is not a CSV table",
                "line_too_long",
            )
        yield line


class CsvReader:
    """Rows of a CSV file as (row number, cells); row 1 is the header (a record spanning
    several lines counts as one row, as in a spreadsheet). Constant memory."""

    def __init__(self, path: Path, *, encoding: str, delimiter: str):
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter or ","
        self._raw = None

    def rows(self) -> Iterator[tuple[int, list]]:
        # The buffer's tell() is where the text layer has read up to: it locates a bad byte.
        self._raw = io.BufferedReader(io.FileIO(self.path, "rb"), buffer_size=1024 * 1024)
        text = io.TextIOWrapper(self._raw, encoding=self.encoding, errors="strict", newline="")
        reader = csv.reader(_bounded_lines(text), delimiter=self.delimiter, strict=False)
        row = 0
        old_limit = csv.field_size_limit(MAX_CELL_CHARS)
        try:
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError as exc:
                    offset = self._raw.tell() - len(exc.object) + exc.start
                    raise FileProblem(
                        _decode_error_message(exc, offset, self.encoding, self.path),
                        "bad_encoding",
                    )
                except csv.Error as exc:
                    message = str(exc)
                    if "NUL" in message:
                        raise FileProblem(
                            f"Row {row + 1} contains a NUL byte: this is not a text CSV file",
                            "binary",
                        )
                    if "field larger" in message:
                        raise FileProblem(
                            f"Row {row + 1} has a cell longer than {MAX_CELL_CHARS} characters "
                            "(an unclosed quote?)",
                            "cell_too_large",
                        )
                    raise FileProblem(f"Row {row + 1} cannot be read: {message}", "bad_csv")
                row += 1
                yield row, cells
        finally:
            csv.field_size_limit(old_limit)
            self.close()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


class XlsxReader:
    """Rows of the first worksheet, read-only (streamed from the zip). Formula cells come
    as their text (`=A1*2`): they are never evaluated."""

    def __init__(self, path: Path, budget: _Budget | None = None):
        self.path = path
        self.budget = budget
        self._wb = None
        self._file = None

    def _load(self):
        from openpyxl.reader.excel import ExcelReader

        # A file object, not the path: openpyxl would refuse a name not ending in .xlsx.
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        reader = ExcelReader(self._file, read_only=True, data_only=False, keep_links=False)
        if self.budget is not None:
            reader.archive.close()
            reader.archive = _BudgetZip(self._file)
            reader.archive.budget = self.budget
        reader.read()
        return reader.wb

    def rows(self) -> Iterator[tuple[int, list]]:
        from openpyxl.utils.exceptions import InvalidFileException

        xlsx_check(self.path)
        try:
            self._wb = self._load()
            sheet = self._wb.worksheets[0]
        except FileProblem:
            self.close()
            raise
        except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, OSError) as exc:
            self.close()
            raise FileProblem(
                f"This is a zip file but not a readable XLSX workbook ({type(exc).__name__})",
                "not_tabular",
            )
        except Exception as exc:  # openpyxl raises many kinds on damaged XML
            self.close()
            raise FileProblem(f"The workbook cannot be read: {exc}", "bad_xlsx")
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = list(values)
                while cells and cells[-1] is None:
                    cells.pop()
                yield number, cells
        except FileProblem:
            raise
        except Exception as exc:
            raise FileProblem(f"The workbook is damaged: {exc}", "bad_xlsx")
        finally:
            self.close()

    def close(self) -> None:
        if self._wb is not None:
            self._wb.close()
            self._wb = None
        if self._file is not None:
            self._file.close()
            self._file = None


def open_reader(path: Path, *, file_format: str, encoding: str, delimiter: str):
    """A reader of the job's whole file (the worker's run)."""
    if file_format == "xlsx":
        return XlsxReader(path)
    return CsvReader(path, encoding=encoding or "utf-8", delimiter=delimiter)
