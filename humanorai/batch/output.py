"""OUT: rows appended as they are scored, and read back when a run resumes.

The format follows the suffix: ``.jsonl`` (one JSON object per line) or ``.csv`` (a header, then one record
per row). Rows are written whole and flushed after every chunk, so a killed run loses at most the chunk in
flight, and at worst leaves a torn last line. The rules:

- OUT does not exist: it is created (with its folder).
- OUT exists: refused unless ``--resume`` (keep its rows, skip their ids, append) or ``--overwrite`` (start
  again). Resuming first cuts off a torn last line, so that row's input is scored again; a row in the middle
  that is not one of ours stops the run instead (nothing a user wrote is ever cut off).
- Rows with an error count as done: to try them again, delete those rows and resume.
- One OUT, one bundle: resuming rows scored by another bundle, or a CSV with other columns, is refused.
- One writer at a time: OUT is locked while a run writes it.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd

from humanorai.batch.rows import has_segments, members_of, typed_frame
from humanorai.errors import InputError

OUTPUT_SUFFIXES = (".jsonl", ".csv")


@dataclass
class Written:
    """What OUT holds: the ids of its rows, how many of them are errors, and the bundles that scored them."""

    ids: set[str] = field(default_factory=set)
    errors: int = 0
    bundles: set[str] = field(default_factory=set)

    def add(self, row: dict[str, Any]) -> None:
        self.ids.add(str(row["id"]))
        self.errors += bool(row.get("error"))
        if row.get("bundle"):
            self.bundles.add(str(row["bundle"]))


def check_output(path: Path, resume: bool, overwrite: bool) -> None:
    """Refuse an OUT that the run could not write, before anything is loaded."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"--out {path}: the output must be a {' or '.join(OUTPUT_SUFFIXES)} file")
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other: resume keeps OUT's rows, overwrite drops them")
    if path.exists() and not (resume or overwrite):
        raise InputError(f"--out {path} exists: add --resume to skip the inputs it holds and append the others, "
                         "or --overwrite to start again")
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; name a {' or '.join(OUTPUT_SUFFIXES)} file")


class RowWriter:
    """OUT, open for appending rows, locked against a second writer; use as a context manager."""

    def __init__(self, path: Path, columns: Sequence[str], bundle: str, resume: bool) -> None:
        self.path = path
        self.columns = list(columns)
        self._csv = path.suffix.lower() == ".csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[str] = path.open("a", encoding="utf-8", newline="")
        try:
            fcntl.flock(self._stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._stream.close()
            raise InputError(f"--out {path} is being written by another humanorai batch; wait for it to end") from None
        try:
            if resume:
                self.written = self._resume(bundle)
            else:
                self._stream.seek(0)
                self._stream.truncate()
                self.written = Written()
            if self._csv and self._stream.tell() == 0:
                csv.writer(self._stream, lineterminator="\n").writerow(self.columns)
                self._stream.flush()
        except BaseException:
            self._stream.close()
            raise

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` and flush them to the operating system: once this returns, a killed process keeps them."""
        if self._csv:
            writer = csv.writer(self._stream, lineterminator="\n")
            for row in rows:
                writer.writerow([row[column] for column in self.columns])
        else:
            for row in rows:
                self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()
        for row in rows:
            self.written.add(row)

    def close(self) -> None:
        self._stream.close()  # closing the file releases the lock

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _resume(self, bundle: str) -> Written:
        """Read the complete rows, cut a torn last line off, and check that they are this run's kind of rows."""
        with self.path.open("r", encoding="utf-8", newline="") as stream:
            rows, complete_bytes = (_csv_rows(stream, self.columns, self.path) if self._csv
                                    else _jsonl_rows(stream, self.path))
        if rows and list(rows[0]) != self.columns:
            raise _other_columns(self.path, list(rows[0]))
        os.truncate(self.path, complete_bytes)
        self._stream.seek(0, os.SEEK_END)
        written = Written()
        for row in rows:
            written.add(row)
        other = written.bundles - {bundle}
        if other:
            raise InputError(f"--out {self.path} holds rows scored by bundle {', '.join(sorted(other))}, and this run "
                             f"uses {bundle}: resume with that bundle, or use --overwrite or another --out")
        return written


def read_output(path: Path) -> pd.DataFrame:
    """A finished (or resumed-and-finished) OUT as a frame of the rows' declared dtypes."""
    with path.open("r", encoding="utf-8", newline="") as stream:
        if path.suffix.lower() == ".csv":
            header = next(csv.reader(stream))
            stream.seek(0)
            rows, _ = _csv_rows(stream, header, path)
            return typed_frame(rows, members_of(header), has_segments(header))
        rows, _ = _jsonl_rows(stream, path)
    columns = list(rows[0]) if rows else []
    return typed_frame(rows, members_of(columns), has_segments(columns))


def _jsonl_rows(stream: IO[str], path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete rows and their length in bytes; a last line without its newline is torn and left out."""
    rows: list[dict[str, Any]] = []
    complete_bytes = 0
    for number, line in enumerate(stream, start=1):
        if not line.endswith("\n"):
            break
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or "id" not in row:
            raise InputError(f"--out {path}, line {number}: not a row that humanorai batch writes; "
                             "use --overwrite or another --out")
        rows.append(row)
        complete_bytes += len(line.encode("utf-8"))
    return rows, complete_bytes


def _csv_rows(stream: IO[str], columns: Sequence[str], path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete rows under a header equal to ``columns``, and their length in bytes (header included).

    A record may span lines (a quoted field with a newline), so "torn" means: the file ends inside the last
    record, whether that ends mid-line or inside a quoted field."""
    consumed = 0
    exhausted = False

    def complete_lines() -> Iterator[str]:
        nonlocal consumed, exhausted
        for line in stream:
            if not line.endswith("\n"):
                break
            consumed += len(line.encode("utf-8"))
            yield line
        exhausted = True

    reader = csv.reader(complete_lines(), strict=True)
    rows: list[dict[str, Any]] = []
    complete_bytes = 0
    try:
        header = next(reader, None)
        if header is None:
            return rows, 0
        if header != list(columns):
            raise _other_columns(path, header)
        complete_bytes = consumed
        for record in reader:
            if len(record) != len(header):
                raise InputError(f"--out {path}, record {len(rows) + 2}: {len(record)} fields, not {len(header)}; "
                                 "not a row that humanorai batch writes: use --overwrite or another --out")
            rows.append(dict(zip(header, record, strict=True)))
            complete_bytes = consumed
    except csv.Error as error:
        if not exhausted:
            raise InputError(f"--out {path}, record {len(rows) + 2}: not valid CSV ({error}); use --overwrite or "
                             "another --out") from None
    return rows, complete_bytes


def _other_columns(path: Path, columns: Sequence[str]) -> InputError:
    return InputError(f"--out {path} has other columns than this run's rows ({', '.join(columns)}): resume with the "
                      "bundle and the --segments choice that wrote it, or use --overwrite or another --out")
