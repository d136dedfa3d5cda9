"""DOCX files made here with python-docx: paragraphs and table cells in order, or why they cannot be read."""

from __future__ import annotations

import io
import zipfile

import pytest

from humanorai.documents.word import MAX_UNPACKED_BYTES, read_docx
from humanorai.errors import DocumentError
from tests.documents.samples import docx_bytes


def test_a_docx_gives_paragraphs_and_table_cells_in_document_order() -> None:
    data = docx_bytes("First paragraph.", "Last paragraph.", table=[["cell A", "cell B"]])
    assert read_docx(io.BytesIO(data)) == "First paragraph.\ncell A\ncell B\nLast paragraph."


@pytest.mark.parametrize("data", [docx_bytes("Some text.")[:600], b"PK\x03\x04 not really a zip", b""],
                         ids=["truncated", "corrupt", "empty"])
def test_a_corrupt_docx_says_it_cannot_be_read(data: bytes) -> None:
    with pytest.raises(DocumentError, match="not a readable DOCX .*save it as .docx"):
        read_docx(io.BytesIO(data))


def test_a_docx_that_unpacks_past_the_limit_is_refused_before_python_docx_reads_it() -> None:
    stream = io.BytesIO(docx_bytes("A real document."))
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as package, \
            package.open("word/media/padding.bin", "w") as padding:
        chunk = bytes(1024 * 1024)
        for _ in range(MAX_UNPACKED_BYTES // len(chunk) + 1):
            padding.write(chunk)
    assert len(stream.getvalue()) < 2 * 1024 * 1024  # a small file…
    with pytest.raises(DocumentError, match="unpacks to .* over the limit"):  # …that would unpack past 256 MiB
        read_docx(io.BytesIO(stream.getvalue()))
