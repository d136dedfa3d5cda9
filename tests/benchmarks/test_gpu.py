"""The prepared GPU check must work the first time it meets a lent GPU: device time is short and not
repeatable. Its CPU mode runs the same steps on tiny models, here, in seconds, comparing ONNX Runtime
(humanorai's exported graph) with the PyTorch reference, so its parity checks can fail."""

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
        assert model["auto_backend"] == "torch fp32 on cpu" and model["auto_ok"] is True  # HF folder: PyTorch
        assert model["fast_backend"] == model["full_backend"] == "onnx fp32"
        # Another runtime and graph than the reference (not bit-identical), and FP32-close to it.
        assert 0.0 < model["fp16_max_abs_diff"] <= 1e-5
        assert 0.0 < model["fp32_max_abs_diff"] <= 1e-5
        assert model["fp16_same_label"] is True
        assert model["padding_abs_diff"] <= 1e-5
        assert set(model["timings_ms"]) == {"cpu onnx fp32 1x128", "cpu onnx fp32 1 thread 1x128",
                                            "original: cpu fp32 1x128", "cpu onnx fp32 32x128",
                                            "cpu onnx fp32 1 thread 32x128"}
        assert all(value > 0 for value in model["timings_ms"].values())


def test_cpu_mode_fails_when_the_fast_path_disagrees(tmp_path: Path) -> None:
    """A parity bug must fail the CPU mode: run it with ONNX Runtime's logits shifted (p_human moves by
    about 0.01, beyond the FP32 bound, within the FP16 one)."""
    out = tmp_path / "gpu.json"
    script = ("import runpy, sys\n"
              "from humanorai.members.transformer.backends import OnnxBackend\n"
              "logits = OnnxBackend.logits\n"
              "OnnxBackend.logits = lambda self, ids, mask: logits(self, ids, mask) + [[0.0, 0.1]]\n"
              f"sys.argv = ['gpu', '--device', 'cpu', '--size', 'tiny', '--repeats', '1', '--out', {str(out)!r}]\n"
              "runpy.run_module('benchmarks.gpu', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checks FAILED" in result.stdout
    for model in json.loads(out.read_text())["models"].values():
        assert model["parity_ok"] is False and model["auto_ok"] is True
        assert 1e-3 < model["fp32_max_abs_diff"] < 0.05


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_where_to_run_it() -> None:
    result = run_gpu_check()
    assert result.returncode == 2
    assert "no CUDA device here" in result.stdout and "Traceback" not in result.stderr
