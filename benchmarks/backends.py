"""Transformer latency at BERT-base / RoBERTa-base size: PyTorch FP32 (the original app) vs ORT FP32 / INT8 vs
OpenVINO FP32 (and BF16 where the CPU has BF16 instructions).

Weights are random (hubs are unreachable here): speed does not depend on their values, and the output says
so. The ONNX files come from humanorai's own exporter (fused attention, per-channel INT8). All paths run in
one process on the same inputs, so the ratios are side by side. ``--size tiny`` runs 2-layer, 64-wide
models with short inputs instead, to test the script in seconds. Usage:
python -m benchmarks.backends [--models bert,roberta] [--repeats 5] [--size base|tiny]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    PreTrainedModel,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from benchmarks.environment import cpu_model
from humanorai.members.transformer.backends import (
    ONNX_FP32,
    ONNX_INT8,
    LogitsBackend,
    OnnxBackend,
    OpenVinoBackend,
    TorchBackend,
    fast_bf16,
)
from humanorai.members.transformer.export import export_onnx

MODELS = ("bert", "roberta")
#: (batch, tokens) timed per size; the tiny models have 128 positions.
SHAPES = {"base": ((1, 128), (1, 256), (1, 512), (16, 256)), "tiny": ((1, 32), (1, 128), (16, 64))}


def base_model(name: str) -> PreTrainedModel:
    """A BERT-base or RoBERTa-base sized classifier with random weights."""
    return _classifier(name, {} if name == "bert" else {"vocab_size": 50265, "max_position_embeddings": 514})


def tiny_model(name: str) -> PreTrainedModel:
    """A 2-layer, 64-wide version of :func:`base_model` with 128 positions, to test a script in seconds."""
    positions = 128 if name == "bert" else 130  # RoBERTa's positions start after its padding id (1)
    return _classifier(name, {"vocab_size": 1000, "max_position_embeddings": positions, "hidden_size": 64,
                              "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128})


def _classifier(name: str, shape: dict[str, Any]) -> PreTrainedModel:
    """A two-label ``bert`` or ``roberta`` classifier with random weights; ``shape`` overrides the library's
    defaults (the configs take these as ``**kwargs``, which the library's type stubs do not declare)."""
    config: dict[str, Any] = {"num_labels": 2, **shape}
    if name == "bert":
        return BertForSequenceClassification(BertConfig(**config))
    return RobertaForSequenceClassification(RobertaConfig(pad_token_id=1, **config))


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``run()`` over ``repeats`` calls, after one warm-up call."""
    run()  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(1000.0 * (time.perf_counter() - started))
    return statistics.median(timings)


def parse_models(value: str) -> list[str]:
    """``--models``: comma-separated names in any case (``BERT,RoBERTa``), in the order given."""
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(MODELS)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=parse_models, default=list(MODELS),
                        help="comma-separated, any case (default: bert,roberta)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per shape, after one warm-up")
    parser.add_argument("--size", choices=("base", "tiny"), default="base",
                        help="base (BERT-base/RoBERTa-base) or tiny (2 layers, 64 wide: tests the script)")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    make_model = base_model if args.size == "base" else tiny_model
    print(f"CPU: {cpu_model()}, {threads} threads; random weights at {args.size} size (speed only, not accuracy)\n")
    columns = ["PyTorch FP32", "ORT FP32", "ORT INT8", "OpenVINO FP32"] + (["OpenVINO BF16"] if fast_bf16() else [])
    print("| model | batch × tokens | " + " | ".join(f"{name} ms" for name in columns) + " | best vs PyTorch |")
    print("|---|---|" + "---|" * (len(columns) + 1))
    rng = np.random.default_rng(0)
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix="humanorai-bench-") as scratch:
            folder = Path(scratch)
            model = make_model(name)
            vocab = min(int(model.config.vocab_size), 20000)
            model.save_pretrained(folder)
            export_onnx(folder)
            backends: dict[str, LogitsBackend] = {
                "PyTorch FP32": TorchBackend(folder, "cpu", "fp32", threads),
                "ORT FP32": OnnxBackend(folder / ONNX_FP32, threads),
                "ORT INT8": OnnxBackend(folder / ONNX_INT8, threads),
                "OpenVINO FP32": OpenVinoBackend(folder / ONNX_FP32, "fp32", threads),
            }
            if fast_bf16():
                backends["OpenVINO BF16"] = OpenVinoBackend(folder / ONNX_FP32, "bf16", threads)
            for batch, tokens in SHAPES[args.size]:
                input_ids = rng.integers(5, vocab, size=(batch, tokens), dtype=np.int64)
                mask = np.ones_like(input_ids)
                result = {key: median_ms(functools.partial(backend.logits, input_ids, mask), args.repeats)
                          for key, backend in backends.items()}
                best = min((value, key) for key, value in result.items() if key != "PyTorch FP32")
                cells = " | ".join(f"{result[column]:.0f}" if result[column] >= 10 else f"{result[column]:.2f}"
                                   for column in columns)
                print(f"| {name} | {batch} × {tokens} | {cells} | {result['PyTorch FP32'] / best[0]:.1f}x "
                      f"({best[1]}) |", flush=True)


if __name__ == "__main__":
    main()
