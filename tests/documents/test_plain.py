"""Text files: UTF-8 with or without a byte-order mark; another encoding is refused, not guessed."""

from __future__ import annotations

import io

import pytest

from humanorai.documents.plain import read_txt
from humanorai.errors import DocumentError


def test_a_text_file_is_utf8_with_or_without_a_byte_order_mark() -> None:
    assert read_txt(io.BytesIO("café au lait".encode())) == "café au lait"
    assert read_txt(io.BytesIO(b"\xef\xbb\xbfcaf\xc3\xa9")) == "café"
    assert read_txt(io.BytesIO(b"")) == ""  # empty, but readable: scoring says it is empty


def test_a_text_file_in_another_encoding_is_refused_not_guessed() -> None:
    with pytest.raises(DocumentError, match=r"not UTF-8 text \(byte 0xe9 at position 3\); save it as UTF-8"):
        read_txt(io.BytesIO("café".encode("latin-1")))
