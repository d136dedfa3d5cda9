"""PDFs made here with fpdf2 (and encrypted with pypdf): the text layer page by page, or why there is none."""

from __future__ import annotations

import io

import pytest

from humanorai.documents.pdf import read_pdf
from humanorai.errors import DocumentError
from tests.documents.samples import ESSAY, encrypted_pdf_bytes, image_only_pdf_bytes, pdf_bytes


def test_a_pdf_gives_the_text_of_every_page_in_order() -> None:
    text = read_pdf(io.BytesIO(pdf_bytes(ESSAY, "Second page.")))
    assert " ".join(text.split()) == f"{ESSAY} Second page."
    assert text.index("bridge") < text.index("Second page")


def test_a_pdf_protected_by_an_owner_password_only_opens() -> None:
    assert "bridge was gone" in read_pdf(io.BytesIO(encrypted_pdf_bytes(ESSAY, user_password="")))


@pytest.mark.parametrize(("data", "message"), [
    (encrypted_pdf_bytes(ESSAY, user_password="secret"), "encrypted PDF: it needs a password to open"),
    (image_only_pdf_bytes(), "PDF without a text layer (1 page(s), no text): a scan or images only; run OCR"),
    (pdf_bytes(ESSAY)[:400], "not a readable PDF"),
    (b"", "not a readable PDF"),
], ids=["encrypted", "image-only", "truncated", "empty"])
def test_an_unreadable_pdf_says_why(data: bytes, message: str) -> None:
    with pytest.raises(DocumentError) as raised:
        read_pdf(io.BytesIO(data))
    assert str(raised.value).startswith(message)
