"""Word files (``.docx``): paragraphs and table cells in document order, through ``python-docx``.

Headers, footers, footnotes and comments are left out: page numbers, names and marginal notes are not the
writing being checked. Legacy ``.doc`` and password-protected files are not ZIP packages and are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from humanorai.errors import DocumentError


def read_docx(stream: BinaryIO) -> str:
    """The body's text, one line per paragraph (and per table cell)."""
    try:
        document = docx.Document(stream)
        return "\n".join(_lines(document.iter_inner_content()))
    except Exception as error:  # a damaged package can fail in zipfile, lxml or python-docx, with any exception
        raise DocumentError(f"not a readable DOCX ({type(error).__name__}: {error}); a password-protected file or "
                            "an old .doc cannot be read: save it as .docx") from None


def _lines(blocks: Iterator[Paragraph | Table]) -> Iterator[str]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block.text
        else:
            for row in block.rows:
                for cell in row.cells:
                    yield from _lines(cell.iter_inner_content())
