import pytest

from rapport.files.services import store_file


@pytest.mark.django_db
def test_store_file_keeps_bytes_and_one_copy_per_content():
    first = store_file(b"hello", name="a.txt", content_type="text/plain")
    second = store_file(b"hello", name="b.txt")
    assert first.size == 5 and first.sha256 == second.sha256
    assert first.file.name == second.file.name
    with second.file.open("rb") as fh:
        assert fh.read() == b"hello"
    assert second.name == "b.txt"
