"""The list of formats: the suffix (any case) picks the reader; another type is refused with the list."""

from __future__ import annotations

import io

import pytest

from humanorai.documents.readers import is_document, read_document
from humanorai.errors import UnsupportedFormat
from tests.documents.samples import ESSAY, docx_bytes, pdf_bytes


def test_the_suffix_in_any_case_picks_the_reader() -> None:
    assert "bridge was gone" in read_document("a/Essay.PDF", io.BytesIO(pdf_bytes(ESSAY)))
    assert read_document("essay.Docx", io.BytesIO(docx_bytes(ESSAY))) == ESSAY
    assert read_document("note.TXT", io.BytesIO(ESSAY.encode())) == ESSAY
    assert is_document("a/b/Essay.DOCX") and not is_document("notes.rtf") and not is_document("README")


def test_other_file_types_are_refused_with_the_accepted_list() -> None:
    with pytest.raises(UnsupportedFormat, match=r"unsupported file type '.rtf'; documents can be .pdf, .docx, .txt"):
        read_document("notes.rtf", io.BytesIO(b"{\\rtf1}"))
    with pytest.raises(UnsupportedFormat, match=r"unsupported file type '\(none\)'"):
        read_document("README", io.BytesIO(b"text"))
