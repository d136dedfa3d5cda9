"""The demo's few validation groups replayed on stored cross-validation runs: every rule is fitted on the
other folds' texts only, through the training pipeline's own fitting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.stacker_few_groups import MODELS, RULES, TRIO, main, replayed
from humanorai.corpus import Corpus
from humanorai.labels import HUMAN
from tests.experiments.test_ensemble_cross import transformer_run
from tests.synthetic import make_rows, write_csv


def noisy_p_human(labels: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 1.0, len(labels))
    return 1 / (1 + np.exp(-(2.0 * (labels == HUMAN) - 1 + noise)))


def test_every_rule_is_reported_from_the_stored_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))  # 6 groups: 3 folds of 2
    bert = transformer_run(data, folds=3)
    labels = np.array(bert["evaluated"]["labels"])
    h2o = {"setup": {"folds": bert["folds"]},
           "scores": {name: noisy_p_human(labels, seed).round(6).tolist() for seed, name in enumerate(TRIO)}}
    paths = {name: tmp_path / f"{name}.json" for name in ("bert", "h2o")}
    for name, content in {"bert": bert, "h2o": h2o}.items():
        paths[name].write_text(json.dumps(content))
    out = tmp_path / "replay.json"
    assert main([str(data), "--transformer", f"{paths['bert']}=texts400", "--h2o", str(paths["h2o"]),
                 "--validation-groups", "2", "--draws", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["members"] == [*TRIO, "BERT"] and report["texts"] == len(labels)
    assert set(report["rules"]) == set(RULES) and all(set(entry) == set(MODELS) for entry in report["rules"].values())
    assert report["rules"]["one-stage"][MODELS[0]]["roc_auc_gain"]["mean"] == 0  # the baseline of the gains
    assert report["rules"]["every group"][MODELS[0]]["roc_auc"]["sd"] == 0  # no draw enters that rule
    assert "two-stage, stacked:" in capsys.readouterr().err


def test_a_folds_answers_do_not_depend_on_its_own_labels() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([f"g{index}" for index in range(6)], 40)
    labels = np.tile([0, 1], 120)
    corpus = Corpus(texts=[f"t{index}" for index in range(240)], labels=labels, groups=groups)
    p_human = {name: noisy_p_human(labels, int(rng.integers(1000))) for name in (*TRIO, "BERT")}
    fold_of = np.repeat([0, 1, 2], 80)
    answers = replayed(p_human, corpus, fold_of, 2, 2, 0)
    flipped = labels.copy()
    flipped[:80] = 1 - flipped[:80]  # fold 0's labels planted wrong: fold 0's answers must not move
    again = replayed(p_human, Corpus(texts=corpus.texts, labels=flipped, groups=groups), fold_of, 2, 2, 0)
    for rule in RULES:
        for draw, draw_again in zip(answers[rule], again[rule], strict=True):
            for model in MODELS:
                assert np.array_equal(draw[model][:80], draw_again[model][:80])
                assert not np.array_equal(draw[model][80:], draw_again[model][80:]) or model != MODELS[0]
