"""PDF files: the text layer, page by page, through ``pypdf``.

No OCR: a scanned or image-only PDF has no text layer and is refused with a message saying so. A PDF
encrypted with an owner password only (an empty user password, common for "protected" PDFs) opens; one
that needs a password to open is refused.
"""

from __future__ import annotations

from typing import BinaryIO

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from humanorai.errors import DocumentError


def read_pdf(stream: BinaryIO) -> str:
    """The text of every page, pages separated by a blank line."""
    try:
        reader = PdfReader(stream)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError("encrypted PDF: it needs a password to open; save an unprotected copy")
        pages = [page.extract_text() for page in reader.pages]
    except DocumentError:
        raise
    except DependencyError as error:
        raise DocumentError(f"encrypted PDF that this installation cannot decrypt ({error})") from None
    except Exception as error:  # a malformed file can fail anywhere inside pypdf, with any exception
        raise DocumentError(f"not a readable PDF ({type(error).__name__}: {error})") from None
    if not pages:
        raise DocumentError("PDF without pages")
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError(f"PDF without a text layer ({len(pages)} page(s), no text): a scan or images only; "
                            "run OCR on it first")
    return text
