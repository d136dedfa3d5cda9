"""``python -m benchmarks.gpu --engine`` must work the first time it meets a lent GPU. Its CPU mode runs every
step on tiny models here, in seconds: the bundle of the two transformers alone, the engine eager and with
the CUDA-graph setting (which changes nothing on the CPU), batch-1 timings, callers with micro-batching on
and off, and every check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.gpu_engine import EngineBench, run
from humanorai.members.transformer.backends import TorchBackend

ROOT = Path(__file__).resolve().parents[2]


def test_engine_cpu_mode_runs_every_check_and_writes_the_numbers(tmp_path: Path) -> None:
    """In a fresh process, so that the check that nothing imported Java, H2O or a web stack means what it
    says on the GPU machine: the engine's path with transformer members alone needs none of them."""
    out = tmp_path / "gpu-engine.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--engine", "--device", "cpu", "--size", "tiny",
                             "--texts", "6", "--callers", "8", "--seconds", "0.5", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout and "left out: DRF, GBM, GLM" in result.stdout
    report = json.loads(out.read_text())
    assert report["mode"] == "engine" and report["size"] == "tiny" and report["cuda"] is None
    assert report["checks"] == dict.fromkeys(report["checks"], True) and len(report["checks"]) == 8
    assert report["passed"] is True and report["targets"] is None and report["targets_met"] is None
    assert report["not_needed_but_imported"] == []
    assert set(report["bundle"]["members"]) == {"BERT", "RoBERTa"}
    for low, high in report["texts"]["tokens"].values():  # one window each, nearly full
        assert 100 <= low <= high <= 128
    for mode in ("eager", "cuda_graphs_on"):
        latency = report["latency_batch_1"][mode]
        assert set(latency["backends"].values()) == {"torch fp32 on cpu"}
        assert 0 < latency["p50_ms"] <= latency["p95_ms"]
        assert set(latency["stage_p50_ms"]) == {"BERT", "RoBERTa", "total"}
    traffic = report["traffic"]
    assert traffic["callers"] == 8
    assert traffic["micro_batching"]["limits"]["max_batch_texts"] == 32
    assert traffic["no_micro_batching"]["limits"]["max_batch_texts"] == 1
    for mode in ("micro_batching", "no_micro_batching"):
        assert traffic[mode]["texts"] > 0 and traffic[mode]["texts_per_s"] > 0 and traffic[mode]["errors"] == {}
    assert traffic["speed_up"] == pytest.approx(traffic["micro_batching"]["texts_per_s"]
                                                / traffic["no_micro_batching"]["texts_per_s"])
    for differences in report["parity"].values():
        assert set(differences) == {"BERT", "RoBERTa"} and max(differences.values()) <= 1e-5


def test_a_text_scored_differently_in_a_micro_batch_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of several windows (only micro-batches make them here) swap the two logits: the batched p_human
    of a text is then 1 - its own, and the check must catch it."""
    eager = TorchBackend._eager

    def swapped_when_batched(self: TorchBackend, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        logits = eager(self, input_ids, attention_mask)
        return logits[:, ::-1] if len(input_ids) > 1 else logits

    monkeypatch.setattr(TorchBackend, "_eager", swapped_when_batched)
    report = run(EngineBench(device="cpu", size="tiny", texts=4, callers=8, seconds=0.3))
    assert report["checks"]["batched_match_single"] is False and report["passed"] is False
    assert report["checks"]["graphs_match_eager"] is True  # one text at a time: untouched
    assert max(report["parity"]["batched_vs_single_max_abs_diff"].values()) > 0.01
