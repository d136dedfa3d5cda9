"""Plain text files (``.txt``): UTF-8, with or without a byte-order mark."""

from __future__ import annotations

from typing import BinaryIO

from humanorai.errors import DocumentError


def read_txt(stream: BinaryIO) -> str:
    """The file's text. Other encodings are refused rather than guessed: a wrong guess would score mojibake."""
    data = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"not UTF-8 text (byte 0x{data[error.start]:02x} at position {error.start}); "
                            "save it as UTF-8 and try again") from None
