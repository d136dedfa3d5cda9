"""``python -m benchmarks.classical`` measures the H2O members of any bundle, member by member."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.classical import load_h2o_engine

ROOT = Path(__file__).resolve().parents[2]


def run_classical(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.classical", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_help_exits_0() -> None:
    result = run_classical("--help")
    assert result.returncode == 0, result.stderr
    assert "--bundle" in result.stdout and "--corpus" in result.stdout and "--texts" in result.stdout


@pytest.mark.slow
def test_the_engine_holds_only_the_h2o_members_uncalibrated(tiny_bundle: Path) -> None:
    engine = load_h2o_engine(tiny_bundle)  # a five-member bundle
    try:
        assert [member.name for member in engine.members] == ["DRF", "GBM", "GLM"]
        assert all(entry.calibration is None for entry in engine.manifest.members)
        assert set(engine.predict(["a short text to score"])[0].timings_ms) == {"tfidf", "DRF", "GBM", "GLM",
                                                                                "total"}
    finally:
        engine.close()


@pytest.mark.slow
def test_a_five_member_bundle_is_measured_and_checked_per_member(tiny_bundle: Path, corpus_csv: Path) -> None:
    result = run_classical("--bundle", str(tiny_bundle), "--corpus", str(corpus_csv), "--texts", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| (c) humanorai: TF-IDF + 3 MOJOs in process |" in result.stdout
    assert "stage medians (ms): tfidf" in result.stdout and "BERT" not in result.stdout
    parity = next(line for line in result.stdout.splitlines() if line.startswith("largest |p_human| difference"))
    assert "DRF" in parity and "GBM" in parity and "GLM" in parity and parity.endswith(": ok")
