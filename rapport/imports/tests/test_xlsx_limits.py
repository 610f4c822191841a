"""A workbook that would unpack to far more than it weighs (a zip bomb) is refused before
anything unpacks it, fast and with a clear error; reading the header has a budget. (The
upload itself never parses: tests in test_reading.py.)"""

import io
import time
import zipfile

import pytest

from rapport.imports.services import files
from rapport.imports.services.files import FileProblem, XlsxReader, sniff
from rapport.imports.tests.conftest import xlsx_bytes

PAD_MB = 300


def _bomb(pad_mb: int = PAD_MB) -> bytes:
    """A real workbook whose sheet XML carries `pad_mb` MB of blanks before its rows."""
    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["Email", "Last name"], ["a@x.org", "A"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in good.infolist():
            data = good.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info.filename, data)
                continue
            head, sep, tail = data.partition(b"<sheetData>")
            with bomb.open(info.filename, "w", force_zip64=True) as part:
                part.write(head)
                blanks = b" " * (1024 * 1024)
                for _ in range(pad_mb):
                    part.write(blanks)
                part.write(sep + tail)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb()


def test_a_zip_bomb_is_refused_before_parsing_fast(tmp_path, bomb):
    assert len(bomb) < 1024 * 1024  # 300 MB of XML in well under 1 MB
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb)
    started = time.perf_counter()
    with pytest.raises(FileProblem) as exc:
        sniff(path)
    assert time.perf_counter() - started < 1.0
    assert exc.value.code == "xlsx_bomb"
    assert "sheet1.xml" in str(exc.value) and "zip bomb" in str(exc.value)
    # The worker's reader checks the same way.
    with pytest.raises(FileProblem) as exc:
        next(XlsxReader(path).rows())
    assert exc.value.code == "xlsx_bomb"


def test_a_workbook_unpacking_past_the_limit_is_refused(tmp_path, settings):
    settings.RAPPORT_IMPORT_MAX_XLSX_UNPACKED = 3000
    path = tmp_path / "big.xlsx"
    path.write_bytes(xlsx_bytes([["Email"], *[[f"p{i}@x.org"] for i in range(300)]]))
    with pytest.raises(FileProblem) as exc:
        sniff(path)
    assert exc.value.code == "xlsx_too_large"


def test_reading_the_header_stops_at_its_budget(tmp_path, monkeypatch):
    # Padding packed less than the ratio limit still cannot hold the web request.
    monkeypatch.setattr(files, "XLSX_MAX_RATIO", 10**6)
    monkeypatch.setattr(files, "SNIFF_XLSX_BYTES", 5 * 1024 * 1024)
    path = tmp_path / "padded.xlsx"
    path.write_bytes(_bomb(20))
    started = time.perf_counter()
    with pytest.raises(FileProblem) as exc:
        sniff(path)
    assert exc.value.code == "xlsx_too_slow"
    assert time.perf_counter() - started < 3.0


def test_an_ordinary_workbook_still_reads(tmp_path):
    path = tmp_path / "ok.xlsx"
    path.write_bytes(xlsx_bytes([["Email", "Last name"], ["a@x.org", "A"]]))
    shape = sniff(path)
    assert (shape.file_format, shape.headers, shape.preview) == (
        "xlsx",
        ["Email", "Last name"],
        [["a@x.org", "A"]],
    )


def test_the_header_time_budget_is_a_setting(tmp_path, settings):
    settings.RAPPORT_IMPORT_XLSX_HEADER_SECONDS = 0
    path = tmp_path / "ok.xlsx"
    path.write_bytes(xlsx_bytes([["Email"], ["a@x.org"]]))
    with pytest.raises(FileProblem) as exc:
        sniff(path)
    assert exc.value.code == "xlsx_too_slow"
