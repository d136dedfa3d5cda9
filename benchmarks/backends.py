"""Transformer latency at BERT-base / RoBERTa-base size: PyTorch FP32 (the original app) vs ORT FP32 / INT8 vs
OpenVINO FP32, BF16 (where the CPU has BF16 instructions) and static INT8 (NNCF).

Weights are random (hubs are unreachable here): speed does not depend on their values, and the output says
so. The ONNX files come from humanorai's own exporter (fused attention, per-channel INT8), the OpenVINO INT8
from its NNCF export, calibrated here on random token ids (its speed does not depend on the scales either).
All paths run in one process on the same inputs, so the ratios are side by side. A column whose packages
are missing (onnx and onnxruntime for the exporter, openvino, nncf) is left out with a note, so the script
runs unattended wherever PyTorch and transformers are. ``--size tiny`` runs 2-layer, 64-wide models with
short inputs instead, to test the script in seconds. ``--out`` also writes the numbers as JSON. Usage:
python -m benchmarks.backends [--models bert,roberta] [--repeats 5] [--size base|tiny] [--out PATH]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
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
    OPENVINO_INT8,
    LogitsBackend,
    OnnxBackend,
    OpenVinoBackend,
    TorchBackend,
    fast_bf16,
)
from humanorai.members.transformer.openvino_int8 import export_openvino_int8

#: Packages humanorai's ONNX exporter needs (torch.onnx writes the graph, ORT's optimizer fuses it).
EXPORTER = ("onnx", "onnxruntime")
#: Every column and the packages it needs beyond PyTorch and transformers, in table order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "PyTorch FP32": (),
    "ORT FP32": EXPORTER,
    "ORT INT8": EXPORTER,
    "OpenVINO FP32": (*EXPORTER, "openvino"),
    "OpenVINO BF16": (*EXPORTER, "openvino"),
    "OpenVINO INT8": (*EXPORTER, "openvino", "nncf"),
}
#: Random-token sequences per timed length that calibrate the OpenVINO INT8 ranges.
CALIBRATION_PER_LENGTH = 4
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


@functools.cache
def importable(package: str) -> bool:
    """Whether ``package`` imports here (a lent GPU machine has PyTorch and transformers, maybe not the rest)."""
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def chosen_columns(bf16: bool, can_import: Callable[[str], bool] = importable) -> tuple[list[str], list[str]]:
    """The columns this machine can time, and a note for each one left out."""
    columns, notes = [], []
    for column, packages in COLUMNS.items():
        missing = [package for package in packages if not can_import(package)]
        if column == "OpenVINO BF16" and not bf16:
            notes.append(f"{column} left out: this CPU has no BF16 instructions (AMX, AVX-512 BF16)")
        elif missing:
            notes.append(f"{column} left out: {', '.join(missing)} not installed")
        else:
            columns.append(column)
    return columns, notes


def random_calibration(rng: np.random.Generator, vocab: int, lengths: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Single sequences of random token ids at each timed length, as NNCF's calibration inputs."""
    inputs = []
    for length in lengths:
        for _ in range(CALIBRATION_PER_LENGTH):
            input_ids = rng.integers(5, vocab, size=(1, length), dtype=np.int64)
            inputs.append({"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)})
    return inputs


def timed_backends(folder: Path, columns: list[str], threads: int,
                   calibration: list[dict[str, np.ndarray]]) -> dict[str, LogitsBackend]:
    """Export what ``columns`` read from the HF model in ``folder``, then open one backend per column."""
    if any(COLUMNS[column] for column in columns):
        from humanorai.members.transformer.export import export_onnx  # needs onnx: imported only when present

        export_onnx(folder)
    if "OpenVINO INT8" in columns:
        export_openvino_int8(folder, calibration)
    opened: dict[str, Callable[[], LogitsBackend]] = {
        "PyTorch FP32": lambda: TorchBackend(folder, "cpu", "fp32", threads),
        "ORT FP32": lambda: OnnxBackend(folder / ONNX_FP32, threads),
        "ORT INT8": lambda: OnnxBackend(folder / ONNX_INT8, threads),
        "OpenVINO FP32": lambda: OpenVinoBackend(folder / ONNX_FP32, "fp32", threads),
        "OpenVINO BF16": lambda: OpenVinoBackend(folder / ONNX_FP32, "bf16", threads),
        "OpenVINO INT8": lambda: OpenVinoBackend(folder / OPENVINO_INT8, "int8", threads),
    }
    return {column: opened[column]() for column in columns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=parse_models, default=list(MODELS),
                        help="comma-separated, any case (default: bert,roberta)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per shape, after one warm-up")
    parser.add_argument("--size", choices=("base", "tiny"), default="base",
                        help="base (BERT-base/RoBERTa-base) or tiny (2 layers, 64 wide: tests the script)")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    make_model = base_model if args.size == "base" else tiny_model
    columns, notes = chosen_columns(fast_bf16())
    print(f"CPU: {cpu_model()}, {threads} threads; random weights at {args.size} size (speed only, not accuracy)")
    for note in notes:
        print(f"note: {note}")
    print("\n| model | batch × tokens | " + " | ".join(f"{name} ms" for name in columns) + " | best vs PyTorch |")
    print("|---|---|" + "---|" * (len(columns) + 1))
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix="humanorai-bench-") as scratch:
            folder = Path(scratch)
            model = make_model(name)
            vocab = min(int(model.config.vocab_size), 20000)
            model.save_pretrained(folder)
            lengths = sorted({tokens for _, tokens in SHAPES[args.size]})
            backends = timed_backends(folder, columns, threads, random_calibration(rng, vocab, lengths))
            for batch, tokens in SHAPES[args.size]:
                input_ids = rng.integers(5, vocab, size=(batch, tokens), dtype=np.int64)
                mask = np.ones_like(input_ids)
                result = {key: median_ms(functools.partial(backend.logits, input_ids, mask), args.repeats)
                          for key, backend in backends.items()}
                rows.append({"model": name, "batch": batch, "tokens": tokens, "ms": result})
                print(f"| {name} | {batch} × {tokens} | {table_cells(result)} |", flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({"cpu": cpu_model(), "threads": threads, "size": args.size,
                                        "repeats": args.repeats, "weights": "random", "notes": notes,
                                        "rows": rows}, indent=2))


def table_cells(result: dict[str, float]) -> str:
    """A row's milliseconds per column and its best path's speed-up over PyTorch FP32."""
    cells = " | ".join(f"{value:.0f}" if value >= 10 else f"{value:.2f}" for value in result.values())
    others = [(value, key) for key, value in result.items() if key != "PyTorch FP32"]
    if not others:
        return f"{cells} | — (PyTorch only)"
    best = min(others)
    return f"{cells} | {result['PyTorch FP32'] / best[0]:.1f}x ({best[1]})"


if __name__ == "__main__":
    main()
