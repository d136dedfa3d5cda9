"""A chunk of items in, one output row per item out: the texts that can be scored go through one engine call.

A text that cannot be scored (empty, not valid Unicode, over the project's limits) gets an error row
instead, so one bad input never stops a run; the limits are the server's (``HUMANORAI_MAX_TEXT_CHARS``,
``HUMANORAI_MAX_REQUEST_TOKENS`` per document), so a document scored here would be accepted there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from humanorai.batch.inputs import Item
from humanorai.batch.rows import error_row, scored_row
from humanorai.scoring.engine import Engine, Prediction
from humanorai.server.schemas import PredictResponse
from humanorai.settings import ServiceSettings
from humanorai.text import unencodable


def member_names(engine: Engine) -> list[str]:
    """Every member the bundle lists, loaded or not: the rows' columns do not depend on what loaded."""
    return [entry.name for entry in engine.manifest.members]


def score_items(engine: Engine, items: Sequence[Item], method: str | None, operating_point: str | None,
                limits: ServiceSettings, segments: bool = False) -> list[dict[str, Any]]:
    """One row per item, in order (with segments: each text's segments scored too)."""
    members, bundle = member_names(engine), engine.manifest.bundle_id
    problems = [item.error or _problem(engine, item.text, limits, segments) for item in items]
    predictions = iter(_predict(engine, [str(item.text) for item, problem in zip(items, problems, strict=True)
                                         if problem is None], method, operating_point, segments))
    rows = []
    for item, problem in zip(items, problems, strict=True):
        outcome = problem if problem is not None else next(predictions)
        text = str(item.text)
        rows.append(error_row(item.id, outcome, members, bundle, segments) if isinstance(outcome, str)
                    else scored_row(item.id, PredictResponse.of(outcome, text), members, text))
    return rows


def _problem(engine: Engine, text: str | None, limits: ServiceSettings, segments: bool) -> str | None:
    """Why ``text`` cannot be scored, or None."""
    if text is None or not text.strip():
        return "empty: no text to score"
    if len(text) > limits.max_text_chars:
        return f"too long: {len(text)} characters; the limit is {limits.max_text_chars} (HUMANORAI_MAX_TEXT_CHARS)"
    problem = unencodable(text)
    if problem:
        return f"text {problem}"
    cost = engine.cost_over([text], limits.max_request_tokens, segments)
    if cost is not None:
        return (f"too long: {cost} token positions through the models; the limit is {limits.max_request_tokens} "
                "(HUMANORAI_MAX_REQUEST_TOKENS)")
    return None


def _predict(engine: Engine, texts: list[str], method: str | None, operating_point: str | None,
             segments: bool) -> list[Prediction | str]:
    """Each text's prediction, in one engine call; should that fail, text by text, so that only the texts
    that fail get an error (the error's message) and the others their scores."""
    if not texts:
        return []
    try:
        return list(engine.predict(texts, method, operating_point, segments))
    except Exception as error:  # a run of thousands of documents must outlive one that breaks a model
        if len(texts) == 1:
            return [f"scoring failed ({type(error).__name__}: {error})"]
    return [outcome for text in texts for outcome in _predict(engine, [text], method, operating_point, segments)]
