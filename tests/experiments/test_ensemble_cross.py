"""The ensemble's cross-fitted measurement: the H2O members trained (real H2O JVM, real MOJOs) on the folds a
transformer run left, and nothing fitted on top of the members ever seeing the fold it is applied to."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from experiments.ensemble_cross import cross_fitted, ensembles, fold_numbers, main
from experiments.transformer_cross import capped_positions
from humanorai.corpus import Corpus, load_corpus
from humanorai.labels import HUMAN
from humanorai.training.out_of_fold import group_folds
from tests.synthetic import make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]
PATTERN = "^syn/([^/]+)/"


def transformer_run(data: Path, folds: int = 3, per_group: int = 16, member: str = "BERT",
                    noise_seed: int = 1) -> dict[str, Any]:
    """What experiments/transformer_cross.py writes, for ``data``: folds, held-out texts, and a ``p_human``
    per held-out text that knows the label only noisily (a stand-in for the GPU's fine-tuned scores)."""
    corpus = load_corpus(data, group_column="source", group_pattern=PATTERN)
    assert corpus.groups is not None
    evaluated = np.sort(capped_positions(corpus, per_group, seed=0))
    held_out = group_folds(corpus.subset(evaluated), folds, 0)
    rng = np.random.default_rng(noise_seed)
    p_human = 1 / (1 + np.exp(-(2.0 * (corpus.labels[evaluated] == HUMAN) - 1 + rng.normal(0, 1.2, len(evaluated)))))
    return {
        "environment": {"device": "test"},
        "data": [{"sha256": hashlib.sha256(data.read_bytes()).hexdigest()}],
        "settings": {"group_pattern": PATTERN, "seed": 0, "member": member},
        "evaluated": {"positions": evaluated.tolist(), "labels": corpus.labels[evaluated].tolist(),
                      "groups": corpus.groups[evaluated].tolist()},
        "folds": [sorted(set(corpus.groups[evaluated[fold]].tolist())) for fold in held_out],
        "recipes": {"texts400": {"p_human": p_human.round(6).tolist()}},
    }


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "experiments.ensemble_cross", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_h2o_members_score_the_transformer_runs_held_out_texts_and_every_ensemble_is_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))  # 6 topics (groups) of 40 texts
    stored, roberta = tmp_path / "transformer.json", tmp_path / "roberta.json"
    stored.write_text(json.dumps(transformer_run(data, folds=2)))
    roberta.write_text(json.dumps(transformer_run(data, folds=2, member="RoBERTa", noise_seed=2)))
    out = tmp_path / "ensemble.json"
    arguments = [str(data), "--transformer", str(stored), "--transformer", f"{roberta}=texts400", "--members",
                 "GLM", "--per-group", "30", "--out", str(out)]
    result = run_script(*arguments)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["seconds_per_fold"]) == {"0", "1"}
    scores = np.array(report["scores"]["GLM"], dtype=float)
    assert scores.shape == (96,) and np.all((scores >= 0) & (scores <= 1)) and len(set(scores)) > 10
    both = "BERT texts400, RoBERTa texts400"
    assert set(report["ensembles"]) == {f"BERT+RoBERTa+GLM ({both})", "BERT+GLM (BERT texts400)",
                                        "RoBERTa+GLM (RoBERTa texts400)", f"BERT+RoBERTa ({both})"}
    every = report["ensembles"][f"BERT+RoBERTa+GLM ({both})"]
    assert every["texts"] == 96 and len(every["units"]) == 6  # one unit per held-out group
    assert {"BERT", "RoBERTa", "GLM", "ensemble: stacked", "ensemble: stacked @ fpr5"} <= set(every["pooled"])
    assert set(report["raw"]) == {"BERT (texts400)", "RoBERTa (texts400)", "GLM"}
    assert [entry["member"] for entry in report["transformers"]] == ["BERT", "RoBERTa"]
    run = transformer_run(data, folds=2)
    raw = np.array(run["recipes"]["texts400"]["p_human"])
    groups, labels = np.array(run["evaluated"]["groups"]), np.array(run["evaluated"]["labels"])
    for group, unit in every["units"].items():  # calibration fitted per fold keeps the ranking inside a group
        inside = groups == group
        assert unit["models"]["BERT"]["roc_auc"] == pytest.approx(roc_auc_score(labels[inside], raw[inside]),
                                                                  abs=1e-6)
        # per group, an operating point reports the verdicts it changes: the share of that group's humans
        assert set(unit["models"]["ensemble: stacked @ fpr5"]) == {"human_flagged_ai", "accuracy"}
    flagged = sum(unit["models"]["ensemble: stacked @ fpr1"]["human_flagged_ai"] * unit["HUMAN"]
                  for unit in every["units"].values())
    assert flagged / sum(unit["HUMAN"] for unit in every["units"].values()) == pytest.approx(
        every["pooled"]["ensemble: stacked @ fpr1"]["human_flagged_ai"], abs=1e-6)
    # a second run with the same setup goes on from the stored folds and trains nothing (in-process: no JVM)
    assert main(arguments) == 0
    printed = capsys.readouterr().err
    assert "going on from 2 folds" in printed and "fold 1/2" not in printed
    assert json.loads(out.read_text())["ensembles"] == report["ensembles"]


def test_data_that_is_not_what_the_transformer_run_read_is_refused(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))
    stored = tmp_path / "transformer.json"
    stored.write_text(json.dumps(transformer_run(data)))
    other = write_csv(tmp_path / "other.csv", make_rows(200))
    assert main([str(other), "--transformer", str(stored), "--out", str(tmp_path / "x.json")]) == 2
    assert "differ from those the transformer run read" in capsys.readouterr().err
    assert main([str(data), "--transformer", f"{stored}=texts400,huge", "--out", str(tmp_path / "x.json")]) == 2
    assert "has no recipe huge; it has texts400" in capsys.readouterr().err
    assert main([str(data), "--transformer", str(stored), "--transformer", str(stored),
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "each transformer member's run once" in capsys.readouterr().err
    other_folds = tmp_path / "roberta.json"
    other_folds.write_text(json.dumps(transformer_run(data, folds=2, member="RoBERTa")))
    assert main([str(data), "--transformer", str(stored), "--transformer", str(other_folds),
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "cross-validated on other folds" in capsys.readouterr().err


def test_what_is_fitted_for_a_fold_never_sees_that_folds_labels() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    groups = np.repeat([f"g{index}" for index in range(6)], 50)
    corpus = Corpus(texts=[f"text {index}" for index in range(300)], labels=labels, groups=groups)
    fold_of = fold_numbers(groups, [["g0", "g1"], ["g2", "g3"], ["g4", "g5"]])
    p_human = {name: 1 / (1 + np.exp(-(labels * 2 - 1 + rng.normal(0, 1, 300)))) for name in ("A", "B")}
    before = cross_fitted(p_human, corpus, fold_of)
    flipped = labels.copy()
    flipped[fold_of == 0] = 1 - flipped[fold_of == 0]  # a planted change inside fold 0 only
    after = cross_fitted(p_human, Corpus(texts=corpus.texts, labels=flipped, groups=groups), fold_of)
    for name in ("A", "ensemble: stacked"):  # fold 0's answers did not move; the others' did
        model = name.removeprefix("ensemble: ")
        first = before[0].members.get(model) or before[0].methods[model]
        second = after[0].members.get(model) or after[0].methods[model]
        assert np.array_equal(first.p_human, second.p_human)
        moved = (before[1].members.get(model) or before[1].methods[model]).p_human
        assert not np.allclose(moved, (after[1].members.get(model) or after[1].methods[model]).p_human)


def test_ensembles_compared() -> None:
    assert ensembles(("BERT",), ("GLM", "DRF")) == [("BERT", "GLM", "DRF"), ("GLM", "DRF"), ("BERT", "GLM"),
                                                    ("BERT", "DRF")]
    assert ensembles(("BERT",), ("GLM",)) == [("BERT", "GLM")]
    assert ensembles(("BERT", "RoBERTa"), ("GLM",)) == [("BERT", "RoBERTa", "GLM"), ("BERT", "GLM"),
                                                        ("RoBERTa", "GLM"), ("BERT", "RoBERTa")]
