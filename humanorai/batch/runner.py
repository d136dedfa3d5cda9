"""One ``humanorai batch`` run: count what is left to do, then score it chunk by chunk through one engine,
appending each chunk's rows to OUT as soon as they are scored, with a progress bar."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from humanorai.batch.inputs import read_items
from humanorai.batch.output import RowWriter
from humanorai.batch.rows import column_types
from humanorai.batch.scoring import member_names, score_items
from humanorai.labels import AI, label_name
from humanorai.progress import note, progress_bar
from humanorai.scoring.engine import Engine
from humanorai.settings import BatchSettings

Chunked = TypeVar("Chunked")


@dataclass(frozen=True)
class BatchSummary:
    """What a run did, and what OUT holds after it."""

    #: Rows this run wrote: scored, of which AI, and errors.
    scored: int
    ai: int
    errors: int
    #: Inputs whose rows OUT already held (``--resume``).
    skipped: int
    seconds: float
    #: A stop was asked for before every input was scored.
    stopped: bool
    out_rows: int
    out_errors: int


def run_batch(engine: Engine, files: Sequence[Path], settings: BatchSettings,
              stop: threading.Event | None = None) -> BatchSummary:
    """Score every item of ``files`` that OUT does not hold yet. When ``stop`` is set, the chunk being scored
    is written and the run ends there (a later ``resume`` goes on from it)."""
    engine.ensemble.check(settings.method)  # an unknown method or point fails here, not on every chunk
    engine.ensemble.check_point(settings.operating_point)
    columns = list(column_types(member_names(engine), settings.segments))
    with RowWriter(settings.out, columns, engine.manifest.bundle_id, settings.resume) as writer:
        done = frozenset(writer.written.ids)
        total = pending = 0
        for item in read_items(files, settings.columns, read_documents=False):
            total += 1
            pending += item.id not in done
        if settings.resume:
            note(f"{total - pending} of {total} inputs are in {settings.out} already; {pending} to score")
        scored = ai = errors = 0
        started = time.perf_counter()
        with progress_bar("Scoring", pending, unit="documents") as advance:
            for chunk in _chunks(read_items(files, settings.columns, skip=done), settings.chunk_size):
                rows = score_items(engine, chunk, settings.method, settings.operating_point, settings.limits,
                                   settings.segments)
                writer.write(rows)
                advance(len(rows))
                errors += sum(row["error"] is not None for row in rows)
                scored += sum(row["error"] is None for row in rows)
                ai += sum(row["label"] == label_name(AI) for row in rows)
                if stop is not None and stop.is_set():
                    break
        finished = scored + errors
        return BatchSummary(scored=scored, ai=ai, errors=errors, skipped=total - pending,
                            seconds=time.perf_counter() - started, stopped=finished < pending,
                            out_rows=len(writer.written.ids), out_errors=writer.written.errors)


def _chunks(items: Iterable[Chunked], size: int) -> Iterator[list[Chunked]]:
    chunk: list[Chunked] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
