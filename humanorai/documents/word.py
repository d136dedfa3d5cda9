"""Word files (``.docx``): paragraphs and table cells in document order, through ``python-docx``.

Headers, footers, footnotes and comments are left out: page numbers, names and marginal notes are not the
writing being checked. Legacy ``.doc`` and password-protected files are not ZIP packages and are refused.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from humanorai.errors import DocumentError

#: Most bytes a DOCX package may unpack to. python-docx holds every part in memory, so a small file that
#: unpacks to gigabytes (a "zip bomb") is refused from the sizes its directory declares; reading stops at
#: those sizes, so a package cannot understate them.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


def read_docx(stream: BinaryIO) -> str:
    """The body's text, one line per paragraph (and per table cell)."""
    _refuse_oversized(stream)
    try:
        document = docx.Document(stream)
        return "\n".join(_lines(document.iter_inner_content()))
    except Exception as error:  # a damaged package can fail in zipfile, lxml or python-docx, with any exception
        raise DocumentError(f"not a readable DOCX ({type(error).__name__}: {error}); a password-protected file or "
                            "an old .doc cannot be read: save it as .docx") from None


def _refuse_oversized(stream: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(stream) as package:
            unpacked = sum(member.file_size for member in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        unpacked = 0  # not a ZIP package: python-docx says so below
    finally:
        stream.seek(0)
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentError(f"DOCX that unpacks to {unpacked} bytes, over the limit of {MAX_UNPACKED_BYTES}: "
                            "a damaged or malicious package")


def _lines(blocks: Iterator[Paragraph | Table]) -> Iterator[str]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block.text
        else:
            for row in block.rows:
                for cell in row.cells:
                    yield from _lines(cell.iter_inner_content())
