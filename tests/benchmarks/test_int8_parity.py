"""``python -m benchmarks.int8_parity``: OpenVINO INT8 against PyTorch FP32 per member, with the issue's bounds;
run here on the session bundle and its synthetic corpus (the real measurement needs the shared corpus)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.int8_parity import compare, main


def run_parity(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["int8_parity", *args])
    return main()


def test_the_bounds_hold_on_every_text_and_on_99_percent_of_the_labels() -> None:
    reference = np.concatenate([np.linspace(0.1, 0.3, 100), np.linspace(0.7, 0.9, 100)])
    assert compare("BERT", reference, reference + 0.0299, 0.5).passed
    assert not compare("BERT", reference, reference + 0.0301, 0.5).passed
    flipped = reference.copy()
    flipped[:2] = 0.6  # two labels of 200 flip: 99 % agree
    assert compare("BERT", reference, np.where(flipped > 0.5, flipped, reference), 0.5).same_label == 0.99
    flipped[2] = 0.6  # three: 98.5 %, and a difference far beyond 0.03
    parity = compare("BERT", reference, flipped, 0.5)
    assert parity.same_label == 0.985 and parity.max_difference == pytest.approx(0.5) and not parity.passed


def test_without_the_corpus_it_says_skipped_and_succeeds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run_parity(monkeypatch, "--bundle", str(tmp_path), "--corpus", str(tmp_path / "absent.csv")) == 0
    assert capsys.readouterr().out.startswith("skipped: no corpus at ")


@pytest.mark.slow
def test_every_transformer_of_the_session_bundle_is_compared(monkeypatch: pytest.MonkeyPatch, tiny_bundle: Path,
                                                             corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "parity.json"
    status = run_parity(monkeypatch, "--bundle", str(tiny_bundle), "--corpus", str(corpus_csv), "--texts", "60",
                        "--out", str(out))
    report = json.loads(out.read_text())
    assert report["texts"] == 60 and [member["member"] for member in report["members"]] == ["BERT", "RoBERTa"]
    for member in report["members"]:
        # Really another runtime, and close: the tiny models' bounds are those of test_member.py.
        assert 0 < member["median_difference"] <= 0.02 and member["same_label"] >= 0.95
    assert status == (0 if all(member["passed"] for member in report["members"]) else 1)
