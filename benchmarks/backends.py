"""Transformer latency at BERT-base / RoBERTa-base size: PyTorch FP32 (the original app) vs ORT FP32 / INT8 vs
OpenVINO FP32 (and BF16 where the CPU has BF16 instructions).

Weights are random (hubs are unreachable here): speed does not depend on their values, and the output says
so. The ONNX files come from humanorai's own exporter (fused attention, per-channel INT8). All paths run in
one process on the same inputs, so the ratios are side by side. Usage:
python benchmarks/transformers.py [--models bert,roberta] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

from humanorai.bench import cpu_model
from humanorai.members.transformer import OnnxBackend, OpenVinoBackend, TorchBackend, fast_bf16
from humanorai.training.export import export_onnx

SHAPES = ((1, 128), (1, 256), (1, 512), (16, 256))


def base_model(name: str) -> torch.nn.Module:
    """A BERT-base or RoBERTa-base sized classifier with random weights."""
    if name == "bert":
        return BertForSequenceClassification(BertConfig(num_labels=2))
    return RobertaForSequenceClassification(RobertaConfig(vocab_size=50265, max_position_embeddings=514,
                                                          num_labels=2, pad_token_id=1))


def tiny_model(name: str) -> torch.nn.Module:
    """A 2-layer, 64-wide version of :func:`base_model`, to test a benchmark script in seconds."""
    sizes = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
    if name == "bert":
        return BertForSequenceClassification(BertConfig(vocab_size=1000, max_position_embeddings=128, num_labels=2,
                                                        **sizes))
    return RobertaForSequenceClassification(RobertaConfig(vocab_size=1000, max_position_embeddings=130, num_labels=2,
                                                          pad_token_id=1, **sizes))


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(1000.0 * (time.perf_counter() - started))
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="bert,roberta")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"CPU: {cpu_model()}, {threads} threads; random weights at base size (speed only, not accuracy)\n")
    columns = ["PyTorch FP32", "ORT FP32", "ORT INT8", "OpenVINO FP32"] + (["OpenVINO BF16"] if fast_bf16() else [])
    print("| model | batch × tokens | " + " | ".join(f"{name} ms" for name in columns) + " | best vs PyTorch |")
    print("|---|---|" + "---|" * (len(columns) + 1))
    rng = np.random.default_rng(0)
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory(prefix="humanorai-bench-") as scratch:
            folder = Path(scratch)
            base_model(name).save_pretrained(folder)
            export_onnx(folder)
            backends = {"PyTorch FP32": TorchBackend(folder, "cpu", "fp32", threads),
                        "ORT FP32": OnnxBackend(folder / "model.onnx", threads),
                        "ORT INT8": OnnxBackend(folder / "model.int8.onnx", threads),
                        "OpenVINO FP32": OpenVinoBackend(folder / "model.onnx", "fp32", threads)}
            if fast_bf16():
                backends["OpenVINO BF16"] = OpenVinoBackend(folder / "model.onnx", "bf16", threads)
            for batch, tokens in SHAPES:
                input_ids = rng.integers(5, 20000, size=(batch, tokens), dtype=np.int64)
                mask = np.ones_like(input_ids)
                result = {key: median_ms(lambda b=backend, i=input_ids, m=mask: b.logits(i, m), args.repeats)
                          for key, backend in backends.items()}
                best = min((value, key) for key, value in result.items() if key != "PyTorch FP32")
                cells = " | ".join(f"{result[column]:.0f}" for column in columns)
                print(f"| {name} | {batch} × {tokens} | {cells} | {result['PyTorch FP32'] / best[0]:.1f}x "
                      f"({best[1]}) |", flush=True)


if __name__ == "__main__":
    main()
