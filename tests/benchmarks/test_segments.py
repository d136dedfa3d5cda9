"""``python -m benchmarks.segments`` in a tiny mode: both answers measured side by side, the ratio reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_segments(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.segments", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_tiny_run_times_plain_and_segmented_answers(tiny_bundle: Path, corpus_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.json"
    result = run_segments("--bundle", str(tiny_bundle), "--corpus", str(corpus_csv), "--texts", "2", "--repeats", "1",
                          "--tokens", "128", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert (report["texts"], report["repeats"], report["tokens"]) == (2, 1, 128)
    assert report["plain_ms"] > 0 and report["segmented_ms"] > 0 and report["segments_per_text"] > 1
    assert report["ratio"] == pytest.approx(report["segmented_ms"] / report["plain_ms"])
    assert report["segment_members"] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    assert f"| with segments | {report['segmented_ms']:.1f} | {report['ratio']:.2f}x |" in result.stdout
    assert "target: a segmented answer within 3x a plain one:" in result.stdout
