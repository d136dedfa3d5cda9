"""Small documents of every format, made by the tests: PDFs with fpdf2 (and pypdf to encrypt them), DOCX
with python-docx."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

ESSAY = "The river rose all night. By morning the bridge was gone and we walked the long way round."


def pdf_bytes(*pages: str) -> bytes:
    """A PDF with a text layer: one page per string."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def image_only_pdf_bytes() -> bytes:
    """A PDF whose page is a picture, as a scan is: no text layer."""
    pdf = FPDF()
    pdf.add_page()
    pdf.image(Image.new("RGB", (120, 40), "gray"), x=10, y=10, w=120)
    return bytes(pdf.output())


def encrypted_pdf_bytes(text: str, user_password: str, owner_password: str = "owner") -> bytes:
    """``text`` as a PDF encrypted with AES-256; an empty user password opens without asking."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password, owner_password, algorithm="AES-256")
    stream = io.BytesIO()
    writer.write(stream)
    return stream.getvalue()


def docx_bytes(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    """A DOCX of ``paragraphs``, with ``table`` (rows of cells) after the first one."""
    document = docx.Document()
    for index, paragraph in enumerate(paragraphs):
        document.add_paragraph(paragraph)
        if index == 0 and table:
            grid = document.add_table(rows=len(table), cols=len(table[0]))
            for row, cells in zip(grid.rows, table, strict=True):
                for cell, text in zip(row.cells, cells, strict=True):
                    cell.text = text
    stream = io.BytesIO()
    document.save(stream)
    return stream.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
