"""A chunk of items through the engine: scored rows are the API's answer, and what cannot be scored is an
error row that does not stop the others."""

from __future__ import annotations

import pytest

from humanorai.batch.inputs import Item
from humanorai.batch.rows import MEMBER_COLUMN_PREFIX
from humanorai.batch.scoring import member_names, score_items
from humanorai.scoring.engine import Engine
from humanorai.server.schemas import PredictResponse
from humanorai.settings import ServiceSettings
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TEXTS = [row["text"] for row in make_rows(4, seed=31)]


def test_a_scored_row_is_the_api_answer_flattened(tiny_engine: Engine) -> None:
    items = [Item(f"doc{index}", text) for index, text in enumerate(TEXTS)]
    rows = score_items(tiny_engine, items, "soft", "balanced", ServiceSettings())
    answers = [PredictResponse.of(prediction, text)
               for prediction, text in zip(tiny_engine.predict(TEXTS, "soft"), TEXTS, strict=True)]
    assert member_names(tiny_engine) == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    for row, answer, item in zip(rows, answers, items, strict=True):
        assert row["id"] == item.id and row["error"] is None
        assert (row["label"], row["p_human"], row["confidence"], row["vote_count"], row["method"]) == (
            answer.ensemble.label, answer.ensemble.p_human, answer.ensemble.confidence, answer.ensemble.vote_count,
            "soft")
        assert {name: row[MEMBER_COLUMN_PREFIX + name] for name in answer.individual_results} == {
            name: result.p_human for name, result in answer.individual_results.items()}
        assert (row["words"], row["windows"], row["low_reliability"], row["bundle"]) == (
            answer.word_count, 1, answer.low_reliability, answer.bundle)


def test_what_cannot_be_scored_is_an_error_row_and_the_rest_are_scored(tiny_engine: Engine) -> None:
    long_text = " ".join(TEXTS * 3)
    limits = ServiceSettings(max_text_chars=len(long_text) + 10, max_request_tokens=tiny_engine.cost([long_text]) - 1)
    assert tiny_engine.cost([TEXTS[0]]) <= limits.max_request_tokens
    too_many_chars = "word " * (limits.max_text_chars // 5 + 1)
    items = [Item("good", TEXTS[0]), Item("blank", " \n\t"), Item("unreadable", error="not a readable PDF (x)"),
             Item("surrogate", "caf\udce9 " + TEXTS[1]), Item("chars", too_many_chars), Item("tokens", long_text),
             Item("also good", TEXTS[1])]
    rows = {row["id"]: row for row in score_items(tiny_engine, items, None, None, limits)}
    assert {name: row["error"] for name, row in rows.items() if row["error"] is not None} == {
        "blank": "empty: no text to score",
        "unreadable": "not a readable PDF (x)",
        "surrogate": "text has an unpaired surrogate (U+DCE9) at character 3; send valid Unicode",
        "chars": f"too long: {len(too_many_chars)} characters; the limit is {limits.max_text_chars} "
                 "(HUMANORAI_MAX_TEXT_CHARS)",
        "tokens": f"too long: {tiny_engine.cost([long_text])} token positions through the models; the limit is "
                  f"{limits.max_request_tokens} (HUMANORAI_MAX_REQUEST_TOKENS)",
    }
    assert rows["blank"]["p_human"] is None and rows["blank"]["bundle"] == tiny_engine.manifest.bundle_id
    expected = tiny_engine.predict([TEXTS[0], TEXTS[1]])
    assert [rows["good"]["p_human"], rows["also good"]["p_human"]] == [
        round(prediction.verdict.p_human, 6) for prediction in expected]


def test_a_text_that_breaks_the_engine_fails_alone(tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    scored = {text: row["p_human"] for text, row in zip(
        TEXTS, score_items(tiny_engine, [Item(text, text) for text in TEXTS], None, None, ServiceSettings()),
        strict=True)}
    real_predict = tiny_engine.predict

    def predict_failing_on_the_third(texts: list[str], *args: object) -> object:
        if TEXTS[2] in texts:  # a fault injected into the real engine, as a model runtime might raise
            raise RuntimeError("model runtime failed")
        return real_predict(texts, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(tiny_engine, "predict", predict_failing_on_the_third)
    rows = score_items(tiny_engine, [Item(text, text) for text in TEXTS], None, None, ServiceSettings())
    assert rows[2]["error"] == "scoring failed (RuntimeError: model runtime failed)"
    assert [row["p_human"] for index, row in enumerate(rows) if index != 2] == [
        scored[text] for index, text in enumerate(TEXTS) if index != 2]
