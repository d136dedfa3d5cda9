"""``python -m benchmarks.end_to_end`` on the tiny bundle: every stage on both paths, parity, clean-up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.classical import H2O_TOLERANCE
from benchmarks.end_to_end import TRANSFORMER_TOLERANCE, BenchSettings, render_markdown, run_bench
from tests.conftest import h2o_jvm_pids

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
STAGES = ["tfidf", *MEMBERS, "total"]


def test_help_lists_the_options_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "benchmarks.end_to_end", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for option in ("--bundle", "--corpus", "--size", "--texts", "--repeats", "--batch-size", "--max-length",
                   "--seed", "--original-batch-budget", "--backend", "--precision", "--out"):
        assert option in result.stdout


@pytest.mark.slow
def test_bench_measures_both_paths_side_by_side_and_cleans_up(
        tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calibrated = tmp_path / "calibrated"  # like the demo bundle: the original path has no calibration
    shutil.copytree(tiny_bundle, calibrated)
    manifest = json.loads((calibrated / "manifest.json").read_text())
    manifest["members"][2]["calibration"] = {"slope": 0.5, "intercept": 1.0}
    (calibrated / "manifest.json").write_text(json.dumps(manifest))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # whatever the run writes lands here
    jvms_before = h2o_jvm_pids()
    result = run_bench(BenchSettings(bundle=calibrated, size="tiny", texts=2, batch_size=4, max_length=128,
                                     original_batch_budget_s=0.0))

    assert list(result.original_ms) == STAGES
    assert list(result.engine_ms) == STAGES
    for stage in STAGES:
        assert result.original_ms[stage] > 0 and result.engine_ms[stage] > 0
    # Medians of two texts are means, so the per-text wall-time bounds hold for them too: the original
    # path runs its stages one after another; the engine's verdict waits for TF-IDF and then every member.
    assert result.original_ms["total"] >= sum(result.original_ms[stage] for stage in STAGES[:-1])
    assert result.engine_ms["total"] >= result.engine_ms["tfidf"] + max(result.engine_ms[name] for name in MEMBERS)
    assert set(result.engine_backends) == set(MEMBERS)
    assert result.engine_backends["BERT"].startswith(("onnx", "openvino"))  # the engine's fast path, not PyTorch
    assert result.texts == 2
    assert 0 < result.median_tokens["BERT"] <= 128 and 0 < result.median_tokens["RoBERTa"] <= 128
    assert result.throughput.batch_size == 4
    assert result.throughput.original_sample == 1  # no time budget: one text timed and extrapolated
    assert result.throughput.original_texts_per_s > 0 and result.throughput.engine_texts_per_s > 0
    assert result.raw_member_sum_ms > 0
    assert result.h2o_max_difference <= H2O_TOLERANCE
    assert set(result.transformer_max_difference) == {"BERT", "RoBERTa"}
    assert max(result.transformer_max_difference.values()) <= TRANSFORMER_TOLERANCE
    assert result.parity_failures == []

    markdown = render_markdown(result)
    assert "| stage | original ms | engine ms | ratio |" in markdown
    assert "| GBM |" in markdown and "| total: five-member verdict |" in markdown
    assert "random weights" in markdown and "generated English-like text" in markdown
    assert "extrapolated from 1 of the 4 texts" in markdown

    assert h2o_jvm_pids() <= jvms_before
    assert list(scratch.glob("humanorai-*")) == []  # bundle, H2O and export folders (torch keeps its caches)
