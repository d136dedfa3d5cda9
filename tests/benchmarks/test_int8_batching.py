"""``python -m benchmarks.int8_batching``: ORT INT8 scores with each window run alone against runs shared
by windows, on the session bundle and its synthetic corpus (the real measurement uses the demo)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.int8_batching import main


def run_benchmark(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["int8_batching", *args])
    return main()


def test_without_the_corpus_it_says_skipped_and_succeeds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run_benchmark(monkeypatch, "--corpus", str(tmp_path / "absent.csv")) == 0
    assert capsys.readouterr().out.startswith("skipped: no corpus at ")


@pytest.mark.slow
def test_served_int8_scores_do_not_move_with_their_batch_and_shared_runs_did(
        monkeypatch: pytest.MonkeyPatch, tiny_bundle: Path, corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "batching.json"
    assert run_benchmark(monkeypatch, "--bundle", str(tiny_bundle), "--corpus", str(corpus_csv), "--texts", "48",
                         "--batch", "8", "--out", str(out)) == 0
    report = json.loads(out.read_text())
    assert report["backends"] == {"BERT": "onnx int8", "RoBERTa": "onnx int8"}
    rules = {(result["member"], result["rule"]): result for result in report["results"]}
    assert set(rules) == {(member, rule) for member in ("BERT", "RoBERTa")
                          for rule in ("served: one window a run", "shared runs")}
    for member in ("BERT", "RoBERTa"):
        served, shared = rules[(member, "served: one window a run")], rules[(member, "shared runs")]
        assert served["one_call"] == served["in_calls"] == [0.0, 0.0, 0.0]  # exactly each text's own score
        assert shared["one_call"][0] > 0  # the effect the served rule removes, measured by the same script
        assert served["texts_per_s"] > 0 and shared["texts_per_s"] > 0
