"""CSV and JSONL files as rows of text to score, streamed: a million-row file is never held in memory.

Training reads its tables whole and strictly (:func:`humanorai.corpus.read_table`: one bad row stops it).
Scoring is the opposite case: a row that cannot be used becomes that row's error and the file goes on, and
only a file that cannot be parsed at all (or lacks the text column) fails as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from humanorai.errors import DataError
from humanorai.settings import TableColumns

TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson")
#: CSV rows parsed at a time.
CSV_ROWS_PER_READ = 1000


@dataclass(frozen=True)
class TableRow:
    """One row: its key within the file (the id column's value, else its number), and its text or why not."""

    key: str
    text: str | None = None
    error: str | None = None


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def table_rows(path: Path, columns: TableColumns) -> Iterator[TableRow]:
    """Each row of a CSV or JSONL file, in order. Rows are numbered from 1: CSV data rows (the header is not
    counted), JSONL lines (blank lines are skipped but counted).

    Raises :class:`DataError` when the file as a whole cannot be read; rows already yielded stand."""
    if path.suffix.lower() == ".csv":
        yield from _csv_rows(path, columns)
    else:
        yield from _jsonl_rows(path, columns)


def _csv_rows(path: Path, columns: TableColumns) -> Iterator[TableRow]:
    number = 0
    try:
        # As training reads CSV (every cell a string, an empty cell an empty string rather than NaN), and with
        # the byte-order mark that spreadsheets put before "CSV UTF-8" taken off the first column's name.
        with pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         chunksize=CSV_ROWS_PER_READ) as chunks:
            for chunk in chunks:
                _check_columns(path, columns, list(chunk.columns))
                keys = chunk[columns.id].tolist() if columns.id is not None else [None] * len(chunk)
                for key, text in zip(keys, chunk[columns.text].tolist(), strict=True):
                    number += 1
                    yield _row(number, key if key != "" else None, text, columns)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file; expected a header row, then one row per text") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be parsed as UTF-8 CSV after row {number} ({error})") from None


def _jsonl_rows(path: Path, columns: TableColumns) -> Iterator[TableRow]:
    """JSONL has no header: the first object stands for it, so a file whose objects all lack the text field
    fails once, naming its fields, instead of giving an error row per line."""
    checked = False
    try:
        with path.open(encoding="utf-8-sig") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    yield TableRow(_unnamed(number, columns), error=f"line {number} is not valid JSON ({error.msg})")
                    continue
                if not isinstance(record, dict):
                    yield TableRow(_unnamed(number, columns),
                                   error=f"line {number} is a JSON {type(record).__name__}, not an object")
                    continue
                if not checked:
                    _check_columns(path, columns, list(record))
                    checked = True
                key = record.get(columns.id) if columns.id is not None else None
                yield _row(number, None if key is None else str(key), record.get(columns.text), columns)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from None


def _row(number: int, key: str | None, text: object, columns: TableColumns) -> TableRow:
    """A row from its cells; the ways a cell can be unusable become the row's error."""
    if columns.id is not None and key is None:
        return TableRow(_unnamed(number, columns), error=f"row {number} has no {columns.id!r} (the id column)")
    name = key if key is not None else str(number)
    if text is None:
        return TableRow(name, error=f"row {number} has no {columns.text!r} (the text column)")
    if not isinstance(text, str):
        return TableRow(name, error=f"row {number}'s {columns.text!r} is a {type(text).__name__}, not text")
    return TableRow(name, text=text)


def _unnamed(number: int, columns: TableColumns) -> str:
    """The key of a row whose id is unknown: its number, in parentheses where ids come from a column (so
    that it cannot pass for one)."""
    return str(number) if columns.id is None else f"(row {number})"


def _check_columns(path: Path, columns: TableColumns, names: list[str]) -> None:
    for column in (columns.text, columns.id):
        if column is not None and column not in names:
            raise DataError(f"{path}: no column {column!r} (columns: {', '.join(names)}); name it with "
                            f"--{'text' if column == columns.text else 'id'}-column")
