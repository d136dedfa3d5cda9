"""The prepared GPU check must work the first time it meets a lent GPU: device time is short and not
repeatable. Its CPU mode runs the same steps on tiny models, here, in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def run_gpu_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cpu_mode_runs_every_check_and_writes_the_numbers(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    result = run_gpu_check("--device", "cpu", "--size", "tiny", "--repeats", "1", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout
    report = json.loads(out.read_text())
    assert report["passed"] is True and set(report["models"]) == {"bert", "roberta"}
    for model in report["models"].values():
        assert model["auto_backend"] == "torch fp32 on cpu"  # a folder without ONNX runs in PyTorch
        assert model["fp32_max_abs_diff"] == 0.0  # the same path twice
        assert model["padding_abs_diff"] <= 1e-5
        assert set(model["timings_ms"]) == {"cpu fp32 1x128", "cpu fp32 32x128", "original: cpu fp32 1x128"}
        assert all(value > 0 for value in model["timings_ms"].values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_where_to_run_it() -> None:
    result = run_gpu_check()
    assert result.returncode == 2
    assert "no CUDA device here" in result.stdout and "Traceback" not in result.stderr
