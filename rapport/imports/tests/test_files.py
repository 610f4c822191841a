"""Reading import files: format and encoding detection, clear errors for bad files."""

import codecs

import pytest

from rapport.imports.services.files import (
    CsvReader,
    FileProblem,
    XlsxReader,
    sniff,
    unique_headers,
)
from rapport.imports.tests.conftest import csv_bytes, xlsx_bytes


@pytest.fixture
def write(tmp_path):
    def make(data: bytes, name: str = "f.csv"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def test_utf8_with_bom_is_read_without_the_bom(write):
    shape = sniff(write(codecs.BOM_UTF8 + csv_bytes([["Prénom", "Nom"], ["Zoé", "Brûlé"]])))
    assert shape.encoding == "utf-8-sig"
    assert shape.headers == ["Prénom", "Nom"]
    assert shape.preview == [["Zoé", "Brûlé"]]


def test_a_chosen_encoding_reads_a_cp1252_file(write):
    path = write(csv_bytes([["Nom"], ["Brûlé"]], encoding="cp1252"))
    shape = sniff(path, encoding="cp1252")
    assert shape.encoding == "cp1252"
    assert shape.preview == [["Brûlé"]]


def test_a_non_utf8_file_is_refused_naming_the_byte_offset(write):
    data = csv_bytes([["Nom"], ["Brûlé"]], encoding="cp1252")
    with pytest.raises(FileProblem) as exc:
        sniff(write(data))
    assert exc.value.code == "bad_encoding"
    offset = data.index(b"\xfb")
    assert f"byte offset {offset}" in str(exc.value)
    assert "line 2" in str(exc.value)


def test_a_bad_byte_deep_in_the_file_is_found_by_the_full_read_with_its_offset(write):
    good = csv_bytes([["Nom"]] + [[f"name {i}"] for i in range(20000)])
    data = good + b"caf\xe9\n"
    path = write(data)
    sniff(path)  # the first 64 KiB are fine
    with pytest.raises(FileProblem) as exc:
        for _ in CsvReader(path, encoding="utf-8", delimiter=",").rows():
            pass
    assert exc.value.code == "bad_encoding"
    assert f"byte offset {len(good) + 3}" in str(exc.value)
    assert "line 20002" in str(exc.value)


def test_utf16_with_bom_is_detected(write):
    text = "Name\tEmail\nAnn\tann@example.org\n"
    shape = sniff(write(codecs.BOM_UTF16_LE + text.encode("utf-16-le")))
    assert shape.encoding == "utf-16"
    assert shape.delimiter == "\t"
    assert shape.headers == ["Name", "Email"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(write, delimiter):
    data = csv_bytes([["a", "b", "c"], ["1", "2", "3"]], delimiter=delimiter)
    assert sniff(write(data)).delimiter == delimiter


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"%PDF-1.4 blah", "not_tabular"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_tabular"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "unsupported_xls"),
        (b'{"name": "x"}', "not_tabular"),
        (b"<html><body>hi</body></html>", "not_tabular"),
        (b"a,b\n\x00\x01\x02,\x03\n", "binary"),
        (b"PK\x03\x04not really a zip", "not_tabular"),
    ],
)
def test_files_that_are_not_tables_get_a_clear_error(write, data, code):
    with pytest.raises(FileProblem) as exc:
        sniff(write(data))
    assert exc.value.code == code
    assert str(exc.value)


def test_xlsx_is_detected_by_content_and_formulas_come_as_text(write):
    path = write(xlsx_bytes([["Name", "Total"], ["Ann", "=SUM(1,2)"], ["Bob", 5]]), "f.bin")
    shape = sniff(path)
    assert shape.file_format == "xlsx"
    assert shape.headers == ["Name", "Total"]
    rows = list(XlsxReader(path).rows())
    assert rows[1] == (2, ["Ann", "=SUM(1,2)"])
    assert rows[2] == (3, ["Bob", 5])


def test_headers_are_made_unique_and_blank_ones_named():
    assert unique_headers(["Email", "", "Email", " Name "]) == [
        "Email",
        "Column 2",
        "Email (2)",
        "Name",
    ]


def test_a_line_without_end_is_refused_before_it_is_read_whole(tmp_path, monkeypatch):
    from rapport.imports.services import files as files_module

    monkeypatch.setattr(files_module, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "long.csv"
    path.write_bytes(b"Email,Name\na@x.org,A\n" + b"x" * 5000)
    reader = files_module.CsvReader(path, encoding="utf-8", delimiter=",")
    rows = reader.rows()
    assert next(rows) == (1, ["Email", "Name"])
    assert next(rows) == (2, ["a@x.org", "A"])
    with pytest.raises(files_module.FileProblem) as exc:
        next(rows)
    assert exc.value.code == "line_too_long" and "Line 3" in str(exc.value)
