"""The prepared cross-validation of a transformer must work the first time it meets a lent GPU. Its CPU mode
runs the same steps (the library's fine-tuning, the member's windows) on a from-scratch tiny model, here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from experiments.transformer_cross import RECIPES, stopping_split
from humanorai.corpus import load_corpus
from tests.synthetic import make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "experiments.transformer_cross", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cpu_mode_scores_every_held_out_text_once_by_a_model_that_never_saw_its_group(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "corpus.csv", make_rows(240))  # 6 topics (groups) of 40 texts
    out = tmp_path / "cross.json"
    result = run_script(str(data), "--group-pattern", "^syn/([^/]+)/", "--preset", "tiny", "--device", "cpu",
                        "--folds", "3", "--recipes", "texts400-groups-auc,demo", "--scale", "0.25",
                        "--eval-per-group", "20", "--budget-s", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    folds = report["folds"]
    assert len(folds) == 3 and sorted(group for fold in folds for group in fold) == sorted(
        {row["source"].split("/")[1] for row in make_rows(240)})  # whole groups, each held out once
    evaluated = report["evaluated"]
    assert len(evaluated["positions"]) == 6 * 20 and sum(evaluated["labels"]) == 60  # half of each label
    demo = report["recipes"]["texts400-groups-auc"]
    assert demo["recipe"] == {"per_group": 100, "max_length": 256, "epochs": 2, "keep_best": "roc-auc",
                              "stop_on": "groups"}  # 400 x 0.25
    assert demo["training_texts"] == [4 * 40] * 3  # every text of the 4 other groups (one stops early)
    assert [sorted(fold) for fold in demo["stopping"]] == [
        ["attempts", "best_epoch", "learning_rate", "valid_loss", "valid_roc_auc"]] * 3  # each fold's fine-tuning
    p_human = np.array(demo["p_human"])
    assert p_human.shape == (120,) and np.all((p_human >= 0) & (p_human <= 1))
    assert len(set(p_human.round(6).tolist())) > 10  # scored, not a constant
    assert set(demo["groups"]) == set(evaluated["groups"]) and 0 <= demo["pooled"]["roc_auc"] <= 1
    assert set(report["skipped"]) == {"demo"} and "budget" in report["skipped"]["demo"]


def test_unknown_recipes_are_a_usage_error(tmp_path: Path) -> None:
    result = run_script(str(tmp_path / "none.csv"), "--preset", "tiny", "--recipes", "demo,huge",
                        "--out", str(tmp_path / "x.json"))
    assert result.returncode == 2 and "unknown recipes huge" in result.stderr


def test_stopping_on_groups_holds_back_whole_groups(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "corpus.csv", make_rows(240)), group_column="source",
                         group_pattern="^syn/([^/]+)/")
    fit, stop = stopping_split(corpus, RECIPES["texts400-groups-auc"].stop_on, seed=0)
    assert len(set(stop.groups.tolist())) == 1 and not set(stop.groups.tolist()) & set(fit.groups.tolist())
    assert len(fit) + len(stop) == len(corpus)
    fit, stop = stopping_split(corpus, RECIPES["texts400"].stop_on, seed=0)
    assert len(stop) == 24 and not set(stop.texts) & set(fit.texts)  # a tenth of the texts
