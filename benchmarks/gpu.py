"""The CUDA path on a lent GPU: parity with PyTorch FP32 on the CPU, then FP16 latency at 1 × 512 and 32 × 512.

Prepared to run once, unattended, in the few minutes a device machine is lent (see README "Benchmarks"):

    python -m benchmarks.gpu --out "$OUT/gpu.json"

For each of BERT-base and RoBERTa-base (random weights: speed does not depend on them, and parity is
checked on the same weights) it
1. checks that ``make_backend`` with everything on ``auto`` picks PyTorch FP16 on CUDA, as serving does;
2. compares p_human of CUDA FP16 and CUDA FP32 with PyTorch FP32 on the CPU on a padded batch of
   realistic lengths (bound: 0.05 absolute for FP16, 1e-3 for FP32, the same label);
3. checks that padding a text inside a batch does not change its CUDA FP16 result (≤ 0.01);
4. times CUDA FP16 and FP32 (median after warm-up; the time includes copying the logits back, as
   serving does) and PyTorch FP32 on the CPU at 1 × 512, the original app's way, for the ratio.
It prints a Markdown table and writes every number as JSON; exit status 1 when a check fails, 2 when
there is no CUDA device.

``--engine`` measures through the engine instead of the raw backends — batch-1 latency eager and with CUDA
graphs, 64 callers with and without micro-batching, against the issue's targets — and exits 3 when the checks
pass but a target is missed (see :mod:`benchmarks.gpu_engine`):

    python -m benchmarks.gpu --engine --out "$OUT/gpu-engine.json"

``--device cpu --size tiny`` runs the same steps on the CPU in seconds, to test the script. In the backend
mode the fast path there is ONNX Runtime FP32 on the graph humanorai's exporter writes (fused attention,
raw attention mask), as CPU serving runs it, and the full-precision path the same graph on one thread (ORT
INT8 is no candidate: on these random weights it moves p_human beyond the 0.05 bound). Both differ from
the PyTorch reference, so the parity and padding checks can fail there too. The JSON keys stay those of
the CUDA run (``fp16_*`` is the fast path, ``fp32_*`` the full-precision one); ``fast_backend`` and
``full_backend`` say what ran.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import PreTrainedModel

from benchmarks.backends import base_model, median_ms, tiny_model
from benchmarks.environment import cpu_model
from benchmarks.random_transformers import spread_probabilities
from humanorai.members.transformer.backends import (
    ONNX_FP32,
    LogitsBackend,
    OnnxBackend,
    TorchBackend,
    make_backend,
)
from humanorai.members.transformer.member import softmax_human

SHAPES = ((1, 512), (32, 512))
FP16_BOUND = 0.05
FP32_BOUND = 1e-3
PADDING_BOUND = 0.01


def padded_batch(rng: np.random.Generator, lengths: list[int], vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded token ids (pad id 1 fits both BERT's unused id and RoBERTa's pad) and the mask."""
    width = max(lengths)
    input_ids = np.ones((len(lengths), width), dtype=np.int64)
    mask = np.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.integers(5, vocab, size=length)
        mask[row, :length] = 1
    return input_ids, mask


def fast_and_full(folder: Path, device: str, threads: int) -> dict[str, LogitsBackend]:
    """The fast and the full-precision path to compare with the reference (PyTorch FP32 on the CPU), by
    the labels their timings get.

    CUDA: PyTorch FP16 and FP32 on the GPU, as serving runs them. CPU (to test the script): ONNX Runtime
    FP32 on the exported graph with every core, and with one thread (ORT's threads are per session; a
    one-thread PyTorch would set the process-wide count, the reference's too)."""
    if device == "cuda":
        return {"cuda fp16": TorchBackend(folder, device, "fp16", threads),
                "cuda fp32": TorchBackend(folder, device, "fp32", threads)}
    from humanorai.members.transformer.export import export_onnx

    export_onnx(folder)
    return {"cpu onnx fp32": OnnxBackend(folder / ONNX_FP32, threads),
            "cpu onnx fp32 1 thread": OnnxBackend(folder / ONNX_FP32, 1)}


def check_model(name: str, model: PreTrainedModel, device: str, repeats: int) -> dict[str, object]:
    """Run the checks and timings for one model; the result records each number and whether it passed."""
    rng = np.random.default_rng(0)
    threads = os.cpu_count() or 1
    vocab = int(model.config.vocab_size)
    positions = int(model.config.max_position_embeddings) - (2 if name == "roberta" else 0)
    spread_probabilities(model)
    with tempfile.TemporaryDirectory(prefix="humanorai-gpu-") as scratch:
        folder = Path(scratch)
        model.save_pretrained(folder)
        chosen = make_backend(folder, threads=threads)  # before any export: the folder holds only HF weights
        reference = TorchBackend(folder, "cpu", "fp32", threads)
        (fast_label, fast), (full_label, full) = fast_and_full(folder, device, threads).items()
        lengths = [positions, positions // 2, positions // 3, positions // 5, 12, positions - 1, 40, 5]
        input_ids, mask = padded_batch(rng, lengths, vocab)
        expected = softmax_human(reference.logits(input_ids, mask))
        fast_p = softmax_human(fast.logits(input_ids, mask))
        full_p = softmax_human(full.logits(input_ids, mask))
        alone = softmax_human(fast.logits(input_ids[4:5, :lengths[4]], mask[4:5, :lengths[4]]))[0]
        fp16_diff = float(np.max(np.abs(fast_p - expected)))
        fp32_diff = float(np.max(np.abs(full_p - expected)))
        padding_diff = float(abs(alone - fast_p[4]))
        same_label = bool(np.all((fast_p >= 0.5) == (expected >= 0.5)))
        result: dict[str, object] = {
            "auto_backend": chosen.description,
            # an HF folder runs in PyTorch: FP16 on CUDA, FP32 on the CPU
            "auto_ok": chosen.description == f"torch {'fp16' if device == 'cuda' else 'fp32'} on {device}",
            "fast_backend": fast.description,
            "full_backend": full.description,
            "fp16_max_abs_diff": fp16_diff,
            "fp32_max_abs_diff": fp32_diff,
            "fp16_same_label": same_label,
            "padding_abs_diff": padding_diff,
            "parity_ok": (fp16_diff <= FP16_BOUND and fp32_diff <= FP32_BOUND and padding_diff <= PADDING_BOUND
                          and same_label),
        }
        timings: dict[str, float] = {}
        for batch, tokens in SHAPES:
            tokens = min(tokens, positions)
            ids = rng.integers(5, vocab, size=(batch, tokens), dtype=np.int64)
            ones = np.ones_like(ids)
            shape = f"{batch}x{tokens}"
            timed = {f"{fast_label} {shape}": fast, f"{full_label} {shape}": full}
            if batch == 1:
                timed[f"original: cpu fp32 {shape}"] = reference
            for key, backend in timed.items():
                timings[key] = median_ms(functools.partial(backend.logits, ids, ones), repeats)
            if batch == 1:
                result["speed_up_vs_original"] = (timings[f"original: cpu fp32 {shape}"]
                                                  / timings[f"{fast_label} {shape}"])
        result["timings_ms"] = timings
    return result


def check_backends(size: str, device: str, repeats: int) -> dict[str, object]:
    """The backend mode: every check and timing for BERT and RoBERTa, printed as a table; the report's
    ``models`` and ``passed``."""
    models: dict[str, dict[str, object]] = {}
    passed = True
    print("| model | auto backend | FP16 max \\|Δp\\| | FP32 max \\|Δp\\| | padding \\|Δp\\| | timings ms | "
          "1 × 512 vs original |")
    print("|---|---|---|---|---|---|---|")
    for name in ("bert", "roberta"):
        torch.manual_seed(0)
        model = base_model(name) if size == "base" else tiny_model(name)
        result = models[name] = check_model(name, model, device, repeats)
        passed = passed and bool(result["parity_ok"]) and bool(result["auto_ok"])
        timings = ", ".join(f"{key} {value:.1f}" for key, value in result["timings_ms"].items())  # type: ignore[attr-defined]
        print(f"| {name} | {result['auto_backend']} | {result['fp16_max_abs_diff']:.2e} | "
              f"{result['fp32_max_abs_diff']:.2e} | {result['padding_abs_diff']:.2e} | {timings} | "
              f"{result['speed_up_vs_original']:.1f}x |", flush=True)
    return {"models": models, "passed": passed}


def check_engine(size: str, device: str, texts: int, callers: int, seconds: float) -> dict[str, object]:
    """The ``--engine`` mode (see :mod:`benchmarks.gpu_engine`), printed as tables."""
    from benchmarks.gpu_engine import EngineBench, render, run

    report = run(EngineBench(device=device, size=size, texts=texts, callers=callers,  # type: ignore[arg-type]
                             seconds=seconds))
    print(render(report), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--size", default="base", choices=["base", "tiny"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, help="write the numbers here as JSON")
    parser.add_argument("--engine", action="store_true",
                        help="measure through the engine instead of the raw backends (benchmarks/gpu_engine.py)")
    parser.add_argument("--texts", type=int, default=100, help="--engine: texts timed one at a time")
    parser.add_argument("--callers", type=int, default=64, help="--engine: concurrent callers")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="--engine: seconds of traffic with micro-batching, and again without")
    args = parser.parse_args()
    transformers.utils.logging.disable_progress_bar()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: run this on the lent GPU machine (or --device cpu --size tiny to test it)")
        sys.exit(2)
    card = torch.cuda.get_device_name(0) if args.device == "cuda" else cpu_model()
    print(f"device: {card}; torch {torch.__version__} (CUDA {torch.version.cuda}); transformers "
          f"{transformers.__version__}; {os.cpu_count()} CPU cores; {args.size} size, random weights (speed only; "
          "parity on the same weights)\n")
    report: dict[str, object] = {"device": card, "torch": torch.__version__, "cuda": torch.version.cuda,
                                 "size": args.size}
    if args.engine:
        report["transformers"] = transformers.__version__
        report.update(check_engine(args.size, args.device, args.texts, args.callers, args.seconds))
    else:
        report.update(check_backends(args.size, args.device, args.repeats))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    passed, targets_met = bool(report["passed"]), report.get("targets_met")
    print(f"\nchecks {'passed' if passed else 'FAILED'}"
          + ("" if targets_met is None else f"; targets {'met' if targets_met else 'MISSED'}"))
    sys.exit(1 if not passed else 3 if targets_met is False else 0)


if __name__ == "__main__":
    main()
