"""``python -m benchmarks.backends`` at tiny size: every backend runs and the table has its rows; columns
whose packages a machine lacks are left out with a note instead of failing the run."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.backends import COLUMNS, chosen_columns, parse_models

ROOT = Path(__file__).resolve().parents[2]


def test_models_are_taken_in_any_case_and_unknown_ones_refused() -> None:
    assert parse_models("BERT, RoBERTa") == ["bert", "roberta"]
    assert parse_models("roberta") == ["roberta"]
    with pytest.raises(argparse.ArgumentTypeError, match="gpt"):
        parse_models("bert,gpt")


def test_columns_whose_packages_are_missing_are_left_out_with_a_note() -> None:
    assert chosen_columns(bf16=True, can_import=lambda package: True) == (list(COLUMNS), [])
    columns, notes = chosen_columns(bf16=False, can_import=lambda package: package not in ("openvino", "nncf"))
    assert columns == ["PyTorch FP32", "ORT FP32", "ORT INT8"]
    assert notes == ["OpenVINO FP32 left out: openvino not installed",
                     "OpenVINO BF16 left out: this CPU has no BF16 instructions (AMX, AVX-512 BF16)",
                     "OpenVINO INT8 left out: openvino, nncf not installed"]
    columns, _ = chosen_columns(bf16=False, can_import=lambda package: package == "openvino")
    assert columns == ["PyTorch FP32"]  # no exporter (onnx, onnxruntime): nothing but PyTorch to time


@pytest.mark.slow  # about 15 s: the ONNX export and the OpenVINO INT8 calibration dominate
def test_tiny_run_times_every_backend(tmp_path: Path) -> None:
    out = tmp_path / "backends.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.backends", "--size", "tiny", "--repeats", "1",
                             "--models", "BERT", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| bert |")]
    assert [row.split(" | ")[1] for row in rows] == ["1 × 32", "1 × 128", "16 × 64"]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| model |"))
    assert "| OpenVINO INT8 ms |" in header
    assert all(len(row.split("|")) == len(header.split("|")) for row in rows)
    report = json.loads(out.read_text())
    assert [(row["batch"], row["tokens"]) for row in report["rows"]] == [(1, 32), (1, 128), (16, 64)]
    assert all(row["ms"]["OpenVINO INT8"] > 0 and row["ms"]["PyTorch FP32"] > 0 for row in report["rows"])


@pytest.mark.slow  # about 5 s: PyTorch alone
def test_without_the_exporter_and_openvino_it_times_pytorch_alone(tmp_path: Path) -> None:
    """A lent GPU machine guarantees PyTorch and transformers only: hide the rest behind packages that fail
    to import, as a missing one does."""
    hidden = tmp_path / "hidden"
    for package in ("onnx", "onnxruntime", "openvino", "nncf"):
        (hidden / package).mkdir(parents=True)
        (hidden / package / "__init__.py").write_text(f"raise ImportError('{package} is hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), str(ROOT)])}
    result = subprocess.run([sys.executable, "-m", "benchmarks.backends", "--size", "tiny", "--repeats", "1",
                             "--models", "bert"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: OpenVINO INT8 left out: onnx, onnxruntime, openvino, nncf not installed" in result.stdout
    assert "| model | batch × tokens | PyTorch FP32 ms | best vs PyTorch |" in result.stdout
    assert result.stdout.count("— (PyTorch only)") == 3
