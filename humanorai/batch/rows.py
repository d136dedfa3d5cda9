"""The output row of ``humanorai batch``: one per document or table row, the same in JSONL, CSV and pandas.

A scored row is the API's answer (:class:`~humanorai.server.schemas.PredictResponse`) flattened into
columns; an error row has the id, the bundle and the error, and nothing else. The columns and their types
are declared once here, for every writer and reader of the rows. With segments, two columns more: ``mixed``
and ``segments``, a JSON array of the segments with their own text (offsets into a PDF's text would tell
a reader nothing without it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from humanorai.server.schemas import PredictResponse

#: The prefix of each member's ``p_human`` column (``p_human_BERT``).
MEMBER_COLUMN_PREFIX = "p_human_"
#: Column → pandas dtype (nullable: an error row leaves the scores empty), in output order; the members'
#: columns go after ``confidence``.
_LEADING = {"id": "string", "label": "string", "p_human": "Float64", "confidence": "Float64"}
_TRAILING = {"vote_count": "Int64", "total_models": "Int64", "method": "string", "operating_point": "string",
             "words": "Int64", "windows": "Int64", "low_reliability": "boolean"}
_SEGMENTS = {"mixed": "boolean", "segments": "string"}
_LAST = {"bundle": "string", "error": "string"}


def column_types(members: Sequence[str], segments: bool = False) -> dict[str, str]:
    """Every column, in order, with its pandas dtype, for a bundle with these members (and segments or not)."""
    return {**_LEADING, **{MEMBER_COLUMN_PREFIX + name: "Float64" for name in members}, **_TRAILING,
            **(_SEGMENTS if segments else {}), **_LAST}


def scored_row(item_id: str, answer: PredictResponse, members: Sequence[str], text: str) -> dict[str, Any]:
    """The row of the scored ``text``; a member that did not load leaves its column empty.

    ``windows`` is the most windows any transformer cut the text into (1 unless the text is longer than the
    window; empty for a bundle without transformers)."""
    ensemble = answer.ensemble
    votes = {name: result.p_human for name, result in answer.individual_results.items()}
    row = {"id": item_id, "label": ensemble.label, "p_human": ensemble.p_human, "confidence": ensemble.confidence,
           **{MEMBER_COLUMN_PREFIX + name: votes.get(name) for name in members},
           "vote_count": ensemble.vote_count, "total_models": ensemble.total_models, "method": ensemble.method,
           "operating_point": ensemble.operating_point, "words": answer.word_count,
           "windows": max(answer.windows.values(), default=None), "low_reliability": answer.low_reliability}
    if answer.segments is not None:
        characters = list(text)  # offsets count code points
        row["mixed"] = answer.mixed
        row["segments"] = json.dumps([{**segment.model_dump(), "text": "".join(characters[segment.start:segment.end])}
                                      for segment in answer.segments], ensure_ascii=False)
    return {**row, "bundle": answer.bundle, "error": None}


def error_row(item_id: str, error: str, members: Sequence[str], bundle: str, segments: bool = False) -> dict[str, Any]:
    """The row of an input that could not be scored: why, and nothing else."""
    row: dict[str, Any] = dict.fromkeys(column_types(members, segments))
    row.update(id=item_id, bundle=bundle, error=error)
    return row


def typed_frame(records: Sequence[dict[str, Any]], members: Sequence[str], segments: bool = False) -> pd.DataFrame:
    """``records`` (rows as written, or as read back from JSONL or CSV) as a frame of the declared dtypes;
    missing values (None, or an empty CSV cell) become ``<NA>``."""
    types = column_types(members, segments)
    frame = pd.DataFrame(list(records), columns=list(types), dtype=object).replace({"": None})
    for column, dtype in types.items():
        values = frame[column]
        if dtype == "boolean":
            values = values.map(lambda value: value if not isinstance(value, str) else value == "True")
        elif dtype != "string":
            values = pd.to_numeric(values)
        frame[column] = values.astype(dtype)
    return frame


def members_of(columns: Sequence[str]) -> list[str]:
    """The member names in a row's columns (the inverse of :func:`column_types`)."""
    return [column.removeprefix(MEMBER_COLUMN_PREFIX) for column in columns
            if column.startswith(MEMBER_COLUMN_PREFIX)]


def has_segments(columns: Sequence[str]) -> bool:
    """Whether rows with these columns carry segments (the other half of :func:`column_types`' inverse)."""
    return all(column in columns for column in _SEGMENTS)
