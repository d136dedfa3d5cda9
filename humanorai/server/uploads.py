"""File uploads: a PDF, DOCX or TXT file in, its text out, or the HTTP error that says why not.

The format comes from the file's name, else from its declared media type; the readers are those of
``humanorai batch`` (:mod:`humanorai.documents`), so an upload and a batch read a file the same way.
"""

from __future__ import annotations

import io
from pathlib import PurePath

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from humanorai.documents.readers import MEDIA_TYPES, READERS, read_document
from humanorai.errors import DocumentError
from humanorai.server.error_handlers import ApiError
from humanorai.server.schemas import DocumentResult

#: Bytes a multipart body may carry beyond its file: boundaries, part headers and the small form fields.
FORM_FRAMING_BYTES = 64 * 1024
ACCEPTED = ", ".join(f"{suffix} ({media_type})" for suffix, media_type in MEDIA_TYPES.items())


def document_format(upload: UploadFile) -> str:
    """The suffix whose reader reads ``upload``: its name's, else its media type's; 415 when neither is one."""
    suffix = PurePath(upload.filename or "").suffix.lower()
    if suffix in READERS:
        return suffix
    media_type = (upload.content_type or "").split(";")[0].strip().lower()
    for known, declared in MEDIA_TYPES.items():
        if media_type == declared:
            return known
    raise ApiError(415, f"unsupported file {upload.filename or '(unnamed)'!r} of type {media_type or '(none)'!r}; "
                        f"accepted: {ACCEPTED}", detail={"accepted": list(MEDIA_TYPES.values())})


async def extract(upload: UploadFile, max_bytes: int) -> DocumentResult:
    """The text of ``upload``: 413 over ``max_bytes``, 415 for a format no reader knows, 422 for a file
    its reader refuses (damaged, encrypted, a PDF without a text layer, not UTF-8)."""
    suffix = document_format(upload)
    if upload.size is not None and upload.size > max_bytes:
        raise ApiError(413, f"the file has {upload.size} bytes; the limit is {max_bytes} "
                            "(HUMANORAI_MAX_UPLOAD_BYTES)", detail={"size": upload.size, "limit": max_bytes})
    data = await upload.read()
    name = upload.filename or f"upload{suffix}"
    try:
        # Off the event loop: a long PDF takes a while to read.
        text = await run_in_threadpool(read_document, f"upload{suffix}", io.BytesIO(data))
    except DocumentError as error:
        raise ApiError(422, f"{name}: {error}") from None
    return DocumentResult.of(name, suffix.lstrip("."), text)
