"""Cross evaluation: one fold per held-out unit, no held-out text in its fold's training, and the
detection measures checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humanorai.evaluation.evaluate import Scored, ScoredCorpus, at_operating_points
from humanorai.evaluation.metrics import ai_detected_at_fpr, human_flagged_ai
from tests.conftest import run_cli
from tests.synthetic import make_rows, write_csv

TOPICS = ("sports", "cooking", "finance", "travel", "science")  # each fold trains on 4: a grouped split needs 3+


def test_human_flagged_ai_counts_only_human_texts() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0])
    predictions = np.array([1, 0, 1, 1, 0, 1])
    assert human_flagged_ai(labels, predictions) == 0.25


def test_ai_detection_at_a_false_positive_rate_sets_the_threshold_on_human_scores() -> None:
    human = np.linspace(0.31, 0.99, 100)  # 100 human scores: 0.31, 0.3169, …
    machine = np.array([0.1, 0.3, 0.32, 0.34, 0.5, 0.9])
    labels = np.array([1] * 100 + [0] * 6)
    p_human = np.concatenate([human, machine])
    # 5 % of 100 human texts may be called AI: the threshold is the 6th lowest human score (0.3443…),
    # below which lie the 5 lowest humans and the AI texts 0.1, 0.3, 0.32, 0.34.
    assert ai_detected_at_fpr(labels, p_human, 0.05) == round(4 / 6, 6)
    assert ai_detected_at_fpr(labels, p_human, 0.0) == round(2 / 6, 6)  # below every human score
    assert np.isnan(ai_detected_at_fpr(labels[:100], p_human[:100], 0.05))


@pytest.mark.slow
def test_leave_one_group_out_gives_one_fold_per_group(tmp_path: Path) -> None:
    rows = [row for row in make_rows(900, seed=9) if row["source"].split("/")[1] in TOPICS]
    data = write_csv(tmp_path / "five.csv", rows)
    out = tmp_path / "cross"
    result = run_cli("train", str(data), "--out", str(out), "--members", "glm", "--max-features", "300",
                     "--group-by", "source", "--group-pattern", "^syn/([^/]+)/", "--cross", "groups",
                     "--sample-per-group", "40", "--calibration", "validation")  # one training per fold
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Starting H2O") == 1  # one cluster serves every fold
    assert "texts in the valid split; its models, calibration or numbers rest on too little data" in result.stderr
    report = json.loads((out / "cross.json").read_text())
    assert sorted(report["units"]) == sorted(TOPICS)
    assert all(unit["texts"] == 40 and unit["HUMAN"] == 20 for unit in report["units"].values())
    assert report["texts"] == 200
    for topic in TOPICS:
        assert f"{topic} held out (40 texts), training on 160" in result.stderr
    pooled = report["pooled"]["GLM"]
    assert pooled["roc_auc"] > 0.8 and 0 <= pooled["human_flagged_ai"] <= 1
    assert "## Pooled over every held-out unit" in (out / "cross.md").read_text()
    assert "| GLM |" in result.stdout
    at_fpr5 = report["pooled"]["ensemble: soft @ fpr5"]
    assert at_fpr5["human_flagged_ai"] <= report["pooled"]["ensemble: soft"]["human_flagged_ai"]
    assert at_fpr5["roc_auc"] == report["pooled"]["ensemble: soft"]["roc_auc"]


def test_verdicts_at_the_operating_points_use_the_fold_bundles_thresholds() -> None:
    p_human = np.array([0.1, 0.3, 0.45, 0.6, 0.9])
    scored = ScoredCorpus(labels=np.array([0, 1, 1, 0, 1]), groups=None, members={},
                          methods={"soft": Scored(p_human, (p_human >= 0.5).astype(np.int64))},
                          thresholds={"soft": {"fpr5": 0.4, "fpr1": 0.2}, "stacked": {"fpr5": 0.9}})
    extra = at_operating_points(scored)
    assert list(extra) == ["soft @ fpr5", "soft @ fpr1"]
    assert extra["soft @ fpr5"].predictions.tolist() == [0, 0, 1, 1, 1]
    assert extra["soft @ fpr1"].predictions.tolist() == [0, 1, 1, 1, 1]
    assert extra["soft @ fpr1"].p_human is p_human
