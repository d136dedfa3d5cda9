"""Scoring past one machine: a pandas frame of texts in, a frame of rows out, on an engine loaded once per
worker process. This is what a cluster's own batch engine calls, once per partition or batch:

- Spark: ``frame.mapInPandas(PartitionScorer(bundle).partitions, schema=PartitionScorer(bundle).schema())``
- Ray Data: ``dataset.map_batches(PartitionScorer, fn_constructor_kwargs={"bundle": ...},
  batch_format="pandas", concurrency=N)``

The rows are ``humanorai batch``'s (:mod:`humanorai.batch.rows`), scored by the same code
(:func:`humanorai.batch.scoring.score_items`); a frame row without an id column is known by its index. The
recipe is in the README ("Check documents").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from humanorai.batch.inputs import Item
from humanorai.batch.rows import column_types, typed_frame
from humanorai.batch.scoring import member_names, score_items
from humanorai.bundle import read_manifest
from humanorai.errors import InputError
from humanorai.scoring.engine import Engine
from humanorai.settings import BatchSettings, EngineSettings, ServiceSettings, TableColumns, TransformerSettings

#: pandas dtype → Spark SQL type, for :meth:`PartitionScorer.schema`.
_SPARK_TYPES = {"string": "string", "Float64": "double", "Int64": "bigint", "boolean": "boolean"}


def score_frame(engine: Engine, frame: pd.DataFrame, columns: TableColumns | None = None,
                method: str | None = None, operating_point: str | None = None,
                limits: ServiceSettings | None = None, segments: bool = False) -> pd.DataFrame:
    """One row per row of ``frame``, in order, with the columns and dtypes of ``humanorai batch``'s rows;
    scored in chunks, as ``batch`` does, so that a large partition does not become one huge engine call."""
    columns = columns or TableColumns()
    if columns.text not in frame.columns:
        raise InputError(f"no column {columns.text!r} (columns: {', '.join(map(str, frame.columns))})")
    ids = frame[columns.id] if columns.id is not None else frame.index
    items = [Item(str(key), text=text if isinstance(text, str) else None)
             for key, text in zip(ids, frame[columns.text], strict=True)]
    limits, size = limits or ServiceSettings(), BatchSettings.chunk_size
    rows = [row for start in range(0, len(items), size)
            for row in score_items(engine, items[start:start + size], method, operating_point, limits, segments)]
    return typed_frame(rows, member_names(engine), segments)


@dataclass(frozen=True)
class PartitionScorer:
    """Scores pandas frames with the bundle at ``bundle``; light to build and to ship to workers, where the
    engine is loaded on first use, once per process (:func:`worker_engine`)."""

    bundle: Path
    columns: TableColumns = field(default_factory=TableColumns)
    method: str | None = None
    operating_point: str | None = None
    transformers: TransformerSettings = field(default_factory=TransformerSettings)
    segments: bool = False

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Ray Data's ``map_batches`` form: a frame in, a frame out."""
        return score_frame(worker_engine(Path(self.bundle), self.transformers), frame, self.columns, self.method,
                           self.operating_point, segments=self.segments)

    def partitions(self, frames: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Spark's ``mapInPandas`` form: a partition's frames in, their rows out."""
        for frame in frames:
            yield self(frame)

    def schema(self) -> str:
        """The rows' schema as Spark SQL DDL (``id string, label string, p_human double, …``), read from the
        bundle's manifest without loading it, for ``mapInPandas(…, schema=…)``."""
        members = [entry.name for entry in read_manifest(Path(self.bundle)).members]
        return ", ".join(f"{name} {_SPARK_TYPES[dtype]}"
                         for name, dtype in column_types(members, self.segments).items())


@functools.lru_cache(maxsize=1)
def worker_engine(bundle: Path, transformers: TransformerSettings) -> Engine:
    """The engine of this worker process, loaded on the first call and kept: a worker scores partition after
    partition without loading the bundle again. No cache of votes: a partition's texts rarely repeat."""
    return Engine.load(bundle, transformers, EngineSettings(cache_size=0))
