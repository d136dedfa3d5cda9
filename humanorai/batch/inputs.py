"""What ``humanorai batch`` reads: files and folders, found up front, then read lazily as items.

Every item has an id that is the same in every run over the same inputs, so that a resumed run knows what
is done:

- a document (PDF, DOCX, TXT): its path as found (in a folder: the folder as given, joined with the path
  inside it);
- a row of a table (CSV, JSONL): ``PATH#KEY``, KEY being the id column's value, else the row's number;
- a table that cannot be read as a whole: its path, with the error.

Folders are searched recursively for the suffixes of documents and tables, in sorted order; hidden files
and folders and Word's lock files (``~$name.docx``) are left out, and so is OUT. A file given by name is read
whatever its suffix (an unsupported one becomes its error). A file reached twice is read once. A repeated
value of the id column becomes an error item ``PATH#KEY (repeat N)``, so that ids stay unique.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from humanorai.batch.tables import TABLE_SUFFIXES, is_table, table_rows
from humanorai.documents.readers import READERS, is_document, read_document
from humanorai.errors import DataError, DocumentError, InputError
from humanorai.settings import TableColumns

#: Word's lock file of an open document (``~$essay.docx``): not a document.
LOCK_FILE_PREFIX = "~$"


@dataclass(frozen=True)
class Item:
    """One thing to score: its id, and its text or why it has none."""

    id: str
    text: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Inputs:
    """The files to read, in order, and what the folders held that is neither a document nor a table."""

    files: list[Path]
    #: Suffix → how many files of that type were left out of the folders.
    ignored: Counter[str] = field(default_factory=Counter)


def find_inputs(paths: Sequence[Path], out: Path) -> Inputs:
    """The files that ``paths`` name or hold; raises :class:`InputError` for a path that does not exist or when
    there is nothing to read."""
    files: list[Path] = []
    ignored: Counter[str] = Counter()
    seen = {out.resolve()}
    for path in paths:
        if path.is_dir():
            candidates = list(_walk(path, ignored))
        elif path.is_file():
            candidates = [path]
        else:
            raise InputError(f"{path}: no such file or folder")
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(candidate)
    if not files:
        raise InputError(f"nothing to read in {', '.join(map(str, paths))}: "
                         f"no {', '.join([*READERS, *TABLE_SUFFIXES])} files")
    return Inputs(files, ignored)


def read_items(files: Sequence[Path], columns: TableColumns, skip: Container[str] = frozenset(),
               read_documents: bool = True) -> Iterator[Item]:
    """The items of ``files`` in order, but those whose id is in ``skip`` (documents among them are not
    opened). Without ``read_documents`` documents come without their text: enough to count them."""
    for path in files:
        if is_table(path):
            yield from (item for item in _table_items(path, columns) if item.id not in skip)
        elif str(path) not in skip:
            yield _document_item(path) if read_documents else Item(str(path))


def _table_items(path: Path, columns: TableColumns) -> Iterator[Item]:
    repeats: Counter[str] = Counter()
    try:
        for row in table_rows(path, columns):
            if columns.id is not None:  # row numbers cannot repeat: only an id column's values are counted
                repeats[row.key] += 1
            if repeats[row.key] <= 1:
                yield Item(f"{path}#{row.key}", row.text, row.error)
            else:
                yield Item(f"{path}#{row.key} (repeat {repeats[row.key]})",
                           error=f"repeats the id {row.key!r}: only its first row is scored")
    except DataError as error:
        yield Item(str(path), error=str(error).removeprefix(f"{path}: "))
    except OSError as error:
        yield Item(str(path), error=f"cannot be read ({error.strerror})")


def _document_item(path: Path) -> Item:
    try:
        with path.open("rb") as stream:
            return Item(str(path), text=read_document(path, stream))
    except DocumentError as error:
        return Item(str(path), error=str(error))
    except OSError as error:
        return Item(str(path), error=f"cannot be read ({error.strerror})")


def _walk(folder: Path, ignored: Counter[str]) -> Iterator[Path]:
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith((".", LOCK_FILE_PREFIX)):
                continue
            path = Path(root, name)
            if is_document(path) or is_table(path):
                yield path
            else:
                ignored[path.suffix.lower() or "(none)"] += 1

