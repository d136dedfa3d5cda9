"""Each document format read from small files made here; every way a file can be unreadable says why."""

from __future__ import annotations

import io

import pytest

from humanorai.documents.readers import is_document, read_document
from humanorai.errors import DocumentError, UnsupportedFormat
from tests.documents.samples import docx_bytes, encrypted_pdf_bytes, image_only_pdf_bytes, pdf_bytes

ESSAY = "The river rose all night. By morning the bridge was gone and we walked the long way round."


def read(name: str, data: bytes) -> str:
    return read_document(name, io.BytesIO(data))


def test_a_pdf_gives_the_text_of_every_page_in_order() -> None:
    text = read("essay.pdf", pdf_bytes(ESSAY, "Second page."))
    assert " ".join(text.split()) == f"{ESSAY} Second page."
    assert text.index("bridge") < text.index("Second page")


def test_a_pdf_protected_by_an_owner_password_only_opens() -> None:
    assert "bridge was gone" in read("essay.pdf", encrypted_pdf_bytes(ESSAY, user_password=""))


@pytest.mark.parametrize(("data", "message"), [
    (encrypted_pdf_bytes(ESSAY, user_password="secret"), "encrypted PDF: it needs a password to open"),
    (image_only_pdf_bytes(), "PDF without a text layer (1 page(s), no text): a scan or images only; run OCR"),
    (pdf_bytes(ESSAY)[:400], "not a readable PDF"),
    (b"", "not a readable PDF"),
], ids=["encrypted", "image-only", "truncated", "empty"])
def test_an_unreadable_pdf_says_why(data: bytes, message: str) -> None:
    with pytest.raises(DocumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read("essay.PDF", data)


def test_a_docx_gives_paragraphs_and_table_cells_in_document_order() -> None:
    data = docx_bytes("First paragraph.", "Last paragraph.", table=[["cell A", "cell B"]])
    assert read("essay.docx", data) == "First paragraph.\ncell A\ncell B\nLast paragraph."


@pytest.mark.parametrize("data", [docx_bytes("Some text.")[:600], b"PK\x03\x04 not really a zip", b""],
                         ids=["truncated", "corrupt", "empty"])
def test_a_corrupt_docx_says_it_cannot_be_read(data: bytes) -> None:
    with pytest.raises(DocumentError, match="not a readable DOCX .*save it as .docx"):
        read("essay.docx", data)


def test_a_text_file_is_utf8_with_or_without_a_byte_order_mark() -> None:
    assert read("note.txt", "café au lait".encode()) == "café au lait"
    assert read("note.txt", b"\xef\xbb\xbfcaf\xc3\xa9") == "café"
    assert read("empty.txt", b"") == ""  # empty, but readable: scoring says it is empty


def test_a_text_file_in_another_encoding_is_refused_not_guessed() -> None:
    with pytest.raises(DocumentError, match=r"not UTF-8 text \(byte 0xe9 at position 3\); save it as UTF-8"):
        read("note.txt", "café".encode("latin-1"))


def test_other_file_types_are_refused_with_the_accepted_list() -> None:
    assert is_document("a/b/Essay.DOCX") and not is_document("notes.rtf")
    with pytest.raises(UnsupportedFormat, match=r"unsupported file type '.rtf'; documents can be .pdf, .docx, .txt"):
        read("notes.rtf", b"{\\rtf1}")
