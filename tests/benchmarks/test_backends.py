"""``python -m benchmarks.backends`` at tiny size: every backend runs and the table has its rows."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.backends import parse_models

ROOT = Path(__file__).resolve().parents[2]


def test_models_are_taken_in_any_case_and_unknown_ones_refused() -> None:
    assert parse_models("BERT, RoBERTa") == ["bert", "roberta"]
    assert parse_models("roberta") == ["roberta"]
    with pytest.raises(argparse.ArgumentTypeError, match="gpt"):
        parse_models("bert,gpt")


@pytest.mark.slow  # about 10 s: the ONNX export dominates
def test_tiny_run_times_every_backend() -> None:
    result = subprocess.run([sys.executable, "-m", "benchmarks.backends", "--size", "tiny", "--repeats", "1",
                             "--models", "BERT"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| bert |")]
    assert [row.split(" | ")[1] for row in rows] == ["1 × 32", "1 × 128", "16 × 64"]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| model |"))
    assert all(len(row.split("|")) == len(header.split("|")) for row in rows)
