"""Stacker variants over stored cross-validation runs: every variant is cross-fitted (nothing fitted for a fold
sees that fold's labels) and measured pooled and per group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.stacker_variants import VARIANTS, cross_fitted_answers, main
from humanorai.labels import HUMAN
from tests.experiments.test_ensemble_cross import transformer_run
from tests.synthetic import make_rows, write_csv


def test_every_variant_is_reported_from_the_stored_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))
    bert = transformer_run(data, folds=2)
    roberta = transformer_run(data, folds=2, member="RoBERTa", noise_seed=2)
    labels = np.array(bert["evaluated"]["labels"])
    noise = np.random.default_rng(3).normal(0, 1.0, len(labels))
    h2o = {"setup": {"folds": bert["folds"]},
           "scores": {"GLM": (1 / (1 + np.exp(-(2.0 * (labels == HUMAN) - 1 + noise)))).round(6).tolist()}}
    paths = {}
    for name, content in {"bert": bert, "roberta": roberta, "h2o": h2o}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(content))
    out = tmp_path / "variants.json"
    assert main([str(data), "--transformer", f"{paths['bert']}=texts400", "--transformer",
                 f"{paths['roberta']}=texts400", "--h2o", str(paths["h2o"]), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["members"] == ["BERT", "RoBERTa", "GLM"] and report["texts"] == len(labels)
    assert set(report["variants"]) == set(VARIANTS)
    for entry in report["variants"].values():
        assert 0.6 < entry["roc_auc"] <= 1 and entry["group_roc_auc_lowest"] <= entry["group_roc_auc_mean"]
    assert "logistic (served): pooled ROC AUC" in capsys.readouterr().err
    # a run on other folds, or a transformer without its one recipe, is refused
    h2o["setup"]["folds"] = [bert["folds"][1], bert["folds"][0]]
    paths["h2o"].write_text(json.dumps(h2o))
    assert main([str(data), "--transformer", f"{paths['bert']}=texts400", "--h2o", str(paths["h2o"]),
                 "--out", str(out)]) == 2
    assert "cross-validated on different folds" in capsys.readouterr().err
    assert main([str(data), "--transformer", str(paths["bert"]), "--h2o", str(paths["h2o"]), "--out", str(out)]) == 2
    assert "exactly one recipe each" in capsys.readouterr().err


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_folds_answers_do_not_depend_on_its_own_labels(variant: str) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    inputs = np.column_stack([labels + rng.normal(0, 1, 300), rng.normal(0, 1, 300)])
    fold_of = np.repeat([0, 1, 2], 100)
    _, model, weighting = VARIANTS[variant]
    groups = np.repeat(np.arange(6), 50) if weighting == "groups" else None  # two groups a fold
    answers = cross_fitted_answers(inputs, labels, fold_of, model, groups)
    flipped = labels.copy()
    flipped[:100] = 1 - flipped[:100]  # fold 0's labels planted wrong: fold 0's answers must not move
    again = cross_fitted_answers(inputs, flipped, fold_of, model, groups)
    assert np.array_equal(answers[:100], again[:100])
    assert not np.array_equal(answers[100:], again[100:])  # the other folds fitted on them, and moved


class RecordingModel:
    """Keeps the weights it was fitted with and answers 0.5."""

    seen: list[np.ndarray | None] = []

    def fit(self, inputs: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> RecordingModel:
        RecordingModel.seen.append(sample_weight)
        return self

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        return np.full((len(inputs), 2), 0.5)


def test_weighing_groups_alike_gives_each_fitting_group_the_same_total_weight() -> None:
    groups = np.array(["a"] * 60 + ["b"] * 10 + ["c"] * 30 + ["d"] * 20)
    fold_of = np.array([0] * 70 + [1] * 50)
    labels = np.tile([0, 1], 60)
    RecordingModel.seen = []
    cross_fitted_answers(np.zeros((120, 1)), labels, fold_of, RecordingModel, groups)
    fold_0_fit, fold_1_fit = RecordingModel.seen  # fold 0's model is fitted on c and d, fold 1's on a and b
    assert fold_0_fit is not None and fold_1_fit is not None
    assert np.allclose([fold_0_fit[:30].sum(), fold_0_fit[30:].sum()], 25.0)  # 50 texts, 2 groups
    assert np.allclose([fold_1_fit[:60].sum(), fold_1_fit[60:].sum()], 35.0)
    cross_fitted_answers(np.zeros((120, 1)), labels, fold_of, RecordingModel)
    assert RecordingModel.seen[2:] == [None, None]


def test_a_member_scored_again_in_a_later_h2o_file_replaces_the_earlier_scores(tmp_path: Path) -> None:
    """``--h2o A --h2o B``: B's GLM (a retuned run) replaces A's, A's other members stay."""
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))
    bert = transformer_run(data, folds=2)
    labels = np.array(bert["evaluated"]["labels"])
    rng = np.random.default_rng(4)
    honest = (1 / (1 + np.exp(-(2.0 * (labels == HUMAN) - 1 + rng.normal(0, 1.0, len(labels)))))).round(6).tolist()
    chance = rng.uniform(0.01, 0.99, len(labels)).round(6).tolist()
    files = {"first": {"GBM": honest, "GLM": chance}, "retuned": {"GLM": honest},
             "together": {"GBM": honest, "GLM": honest}}
    paths = {}
    for name, scores in [("bert", None), *files.items()]:
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(bert if scores is None else {"setup": {"folds": bert["folds"]},
                                                                        "scores": scores}))
    reports = {}
    for order in (["first"], ["first", "retuned"], ["together"]):
        out = tmp_path / f"variants-{'+'.join(order)}.json"
        assert main([str(data), "--transformer", f"{paths['bert']}=texts400",
                     *[argument for name in order for argument in ("--h2o", str(paths[name]))],
                     "--out", str(out)]) == 0
        reports["+".join(order)] = json.loads(out.read_text())
    assert reports["first"]["members"] == reports["first+retuned"]["members"] == ["BERT", "GBM", "GLM"]
    assert reports["first+retuned"] == reports["together"] != reports["first"]
