"""The per-partition function a Spark or Ray worker calls, on a local pandas frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from humanorai.batch.partition import PartitionScorer, score_frame, worker_engine
from humanorai.batch.rows import column_types
from humanorai.errors import InputError
from humanorai.scoring.engine import Engine
from humanorai.settings import TableColumns
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TEXTS = [row["text"] for row in make_rows(5, seed=51)]
MEMBERS = ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]


def test_a_frame_gives_one_typed_row_per_row_in_order(tiny_engine: Engine) -> None:
    frame = pd.DataFrame({"doc": ["d1", "d2", "d3", "d4"], "body": [TEXTS[0], None, TEXTS[1], "  "]})
    rows = score_frame(tiny_engine, frame, TableColumns(text="body", id="doc"), method="soft")
    assert dict(rows.dtypes.astype(str)) == column_types(MEMBERS)
    assert rows["id"].tolist() == ["d1", "d2", "d3", "d4"]
    assert rows["error"].tolist() == [pd.NA, "empty: no text to score", pd.NA, "empty: no text to score"]
    expected = tiny_engine.predict([TEXTS[0], TEXTS[1]], "soft")
    assert rows["p_human"].tolist()[0::2] == [round(prediction.verdict.p_human, 6) for prediction in expected]
    assert set(rows["method"].dropna()) == {"soft"}


def test_without_an_id_column_rows_are_known_by_the_frame_index(tiny_engine: Engine) -> None:
    frame = pd.DataFrame({"text": TEXTS[:2]}, index=[10, 11])
    assert score_frame(tiny_engine, frame)["id"].tolist() == ["10", "11"]
    with pytest.raises(InputError, match=r"no column 'text' \(columns: body\)"):
        score_frame(tiny_engine, pd.DataFrame({"body": TEXTS[:1]}))


def test_a_worker_loads_the_engine_once_for_every_partition(tiny_engine: Engine, tiny_bundle: Path) -> None:
    scorer = PartitionScorer(tiny_bundle)
    partition = [pd.DataFrame({"text": TEXTS[:3]}), pd.DataFrame({"text": TEXTS[3:]}, index=[3, 4])]
    worker_engine.cache_clear()
    try:
        scored = list(scorer.partitions(partition))  # Spark's mapInPandas form
        again = scorer(partition[0])  # Ray Data's map_batches form
        assert worker_engine.cache_info().misses == 1
    finally:
        worker_engine.cache_clear()
    expected = score_frame(tiny_engine, pd.concat(partition))
    pd.testing.assert_frame_equal(pd.concat(scored, ignore_index=True), expected)
    pd.testing.assert_frame_equal(again, expected.iloc[:3])


def test_the_spark_schema_is_read_from_the_manifest(tiny_bundle: Path) -> None:
    assert PartitionScorer(tiny_bundle).schema() == (
        "id string, label string, p_human double, confidence double, p_human_DRF double, p_human_GBM double, "
        "p_human_GLM double, p_human_BERT double, p_human_RoBERTa double, vote_count bigint, total_models bigint, "
        "method string, operating_point string, words bigint, windows bigint, low_reliability boolean, "
        "bundle string, error string")
