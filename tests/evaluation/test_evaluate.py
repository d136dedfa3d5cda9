"""The evaluation report: its numbers equal a direct computation from the engine's predictions, the files
are written, and ``train`` leaves the same report for its test split inside the bundle."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from humanorai.bundle import read_manifest
from humanorai.corpus import load_corpus
from humanorai.evaluation.evaluate import evaluation_report, score_corpus
from humanorai.evaluation.report import write_report
from humanorai.scoring.engine import Engine
from tests.conftest import run_cli
from tests.synthetic import make_rows, write_csv

pytestmark = pytest.mark.slow
GROUP_PATTERN = "^syn/([^/]+)/"


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("eval") / "held_out.csv", make_rows(120, seed=4242))


def test_report_numbers_equal_a_direct_computation(tiny_bundle: Path, held_out: Path) -> None:
    corpus = load_corpus(held_out, group_column="source", group_pattern=GROUP_PATTERN)
    engine = Engine.load(tiny_bundle)
    report = evaluation_report(score_corpus(engine, corpus))
    direct = engine.predict(corpus.texts)
    labels = corpus.labels
    for index, name in enumerate(("DRF", "GBM", "GLM", "BERT", "RoBERTa")):
        p_human = np.array([p.votes[index].p_human for p in direct])
        metrics = report["members"][name]["metrics"]
        assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, p_human >= 0.5), abs=1e-6)
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, p_human), abs=1e-6)
    majority = np.array([p.verdict.prediction for p in direct])
    assert report["ensembles"]["majority"]["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(labels, majority), abs=1e-6)
    soft = np.array([np.mean([v.p_human for v in p.votes]) >= 0.5 for p in direct])
    assert report["ensembles"]["soft"]["metrics"]["accuracy"] == pytest.approx(accuracy_score(labels, soft), abs=1e-6)
    stacked = np.array([p.verdict.prediction for p in engine.predict(corpus.texts, "stacked")])
    confusion = report["ensembles"]["stacked"]["confusion"]
    assert confusion["HUMAN"]["HUMAN"] == int(np.sum((labels == 1) & (stacked == 1)))
    assert confusion["AI"]["HUMAN"] == int(np.sum((labels == 0) & (stacked == 1)))
    assert sum(row["count"] for row in report["members"]["GLM"]["reliability"]) == len(labels)
    assert report["best_method"] in ("majority", "soft", "stacked")
    groups = report["groups"]
    assert sum(group["texts"] for group in groups.values()) == len(labels)
    for key, group in groups.items():
        inside = corpus.groups == key
        assert group["accuracy"]["ensemble:majority"] == pytest.approx(
            accuracy_score(labels[inside], majority[inside]), abs=1e-6)
        human = inside & (labels == 1)
        assert group["human_flagged_ai"]["ensemble:majority"] == pytest.approx(np.mean(majority[human] == 0), abs=1e-6)
        assert 0 <= group["ece"]["GLM"] <= 1
    for point in ("fpr5", "fpr1"):  # each method at the bundle's operating points, as the engine answers there
        at_point = np.array([p.verdict.prediction for p in engine.predict(corpus.texts, "stacked", point)])
        entry = report["operating_points"][f"stacked @ {point}"]
        assert entry["metrics"]["human_flagged_ai"] == pytest.approx(np.mean(at_point[labels == 1] == 0), abs=1e-6)
        assert entry["metrics"]["roc_auc"] == report["ensembles"]["stacked"]["metrics"]["roc_auc"]
        assert entry["confusion"]["HUMAN"]["AI"] == int(np.sum((labels == 1) & (at_point == 0)))


def test_report_files_are_written(tiny_bundle: Path, held_out: Path, tmp_path: Path) -> None:
    corpus = load_corpus(held_out)
    scored = score_corpus(Engine.load(tiny_bundle), corpus)
    report = evaluation_report(scored)
    paths = write_report(report, scored, tmp_path / "out", {"bundle": "b", "data": "d"})
    assert [path.name for path in paths] == ["report.json", "report.md", "roc.png", "reliability.png"]
    stored = json.loads(paths[0].read_text())
    assert stored["context"] == {"bundle": "b", "data": "d"} and "groups" not in stored
    assert stored["members"]["GBM"]["metrics"] == report["members"]["GBM"]["metrics"]
    markdown = paths[1].read_text()
    assert "| ensemble: stacked |" in markdown and "![ROC curves](roc.png)" in markdown
    assert "| ensemble: stacked @ fpr1 |" in markdown and "human_flagged_ai" in markdown
    for image in paths[2:]:
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000


def test_train_wrote_the_test_split_report_and_the_ensemble_into_the_bundle(tiny_bundle: Path) -> None:
    manifest = read_manifest(tiny_bundle)
    stored = json.loads((tiny_bundle / "report" / "report.json").read_text())
    for entry in manifest.members:
        assert {key: stored["members"][entry.name]["metrics"][key] for key in ("accuracy", "roc_auc", "ece")} == {
            key: entry.metrics[key] for key in ("accuracy", "roc_auc", "ece")}
    ensemble = manifest.ensemble
    assert ensemble["method"] == "majority" and ensemble["best_on_test"] == stored["best_method"]
    assert set(ensemble["methods"]) == {"majority", "soft", "stacked"}
    assert ensemble["stacked"]["members"] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    assert stored["texts"] == manifest.training["split"]["test"]["rows"]
    assert (tiny_bundle / "report" / "roc.png").is_file()


def test_evaluate_command_prints_the_table_and_writes_the_report(tiny_bundle: Path, held_out: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_cli("evaluate", str(held_out), "--bundle", str(tiny_bundle), "--out", str(out),
                     "--group-by", "source", "--group-pattern", GROUP_PATTERN)
    assert result.returncode == 0, result.stderr
    assert "ensemble: stacked" in result.stdout and "best ensemble method" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == ["reliability.png", "report.json", "report.md", "roc.png"]
    markdown = (out / "report.md").read_text()
    assert "## Accuracy per group" in markdown
    assert ("| group | method | roc_auc | accuracy | ece | human_flagged_ai | ai_detected_at_fpr1 | "
            "ai_detected_at_fpr5 |") in markdown
    assert re.search(r"\| \S+ \| stacked @ fpr1 \| [0-9.–]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ "
                     r"\| [0-9.–]+ \| [0-9.–]+ \|", markdown)
    missing = run_cli("evaluate", str(tmp_path / "nope.csv"), "--bundle", str(tiny_bundle))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_evaluate_held_out_scores_every_row_of_the_test_groups_and_refuses_what_it_cannot_honour(
        tiny_bundle: Path, held_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_cli("evaluate", "--held-out", "--bundle", str(tiny_bundle), "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    test_groups = read_manifest(tiny_bundle).training["split"]["test"]["groups"]
    assert sorted(report["groups"]) == sorted(test_groups)
    assert report["texts"] == sum(group["texts"] for group in report["groups"].values()) > 0
    assert "(held-out groups only)" in (out / "report.md").read_text()
    split = run_cli("evaluate", "--test-split", "--bundle", str(tiny_bundle), "--out", str(tmp_path / "split"))
    assert split.returncode == 0, split.stderr
    assert json.loads((tmp_path / "split" / "report.json").read_text())["texts"] == (
        read_manifest(tiny_bundle).training["split"]["test"]["rows"])
    nothing = run_cli("evaluate", "--bundle", str(tiny_bundle))
    assert nothing.returncode == 2 and "give --held-out" in nothing.stderr and "Traceback" not in nothing.stderr
    regrouped = run_cli("evaluate", "--held-out", "--bundle", str(tiny_bundle), "--group-by", "source")
    assert regrouped.returncode == 2 and "leave out --text-column" in regrouped.stderr
    other = run_cli("evaluate", str(held_out), "--held-out", "--bundle", str(tiny_bundle))
    assert other.returncode == 2 and "is not the file the bundle was trained on" in other.stderr
