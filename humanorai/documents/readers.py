"""Which reader reads which file: the one list of document formats, keyed by file name suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import BinaryIO

from humanorai.documents.pdf import read_pdf
from humanorai.documents.plain import read_txt
from humanorai.documents.word import read_docx
from humanorai.errors import UnsupportedFormat

#: File name suffix (lower case) → the reader that turns such a file's bytes into text.
READERS: dict[str, Callable[[BinaryIO], str]] = {".pdf": read_pdf, ".docx": read_docx, ".txt": read_txt}
#: Suffix → the media type an upload of that format declares (for a file sent without a telling name).
MEDIA_TYPES = {".pdf": "application/pdf",
               ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               ".txt": "text/plain"}


def is_document(name: str | PurePath) -> bool:
    return PurePath(name).suffix.lower() in READERS


def read_document(name: str | PurePath, stream: BinaryIO) -> str:
    """The text of the document ``name`` (its suffix picks the reader) read from ``stream``.

    Raises :class:`~humanorai.errors.DocumentError` when the file cannot be read, and its subclass
    :class:`~humanorai.errors.UnsupportedFormat` for a suffix no reader handles."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in READERS:
        raise UnsupportedFormat(f"unsupported file type {suffix or '(none)'!r}; documents can be "
                                f"{', '.join(READERS)}")
    return READERS[suffix](stream)
