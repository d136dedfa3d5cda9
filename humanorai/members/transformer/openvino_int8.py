"""Static INT8 for OpenVINO: NNCF quantises a transformer's fused FP32 ONNX into an OpenVINO IR, its
activation scales calibrated on a seeded sample of training texts.

Why static: ONNX Runtime's dynamic INT8 measures activation ranges on every call and runs on VNNI paths,
leaving a Xeon's AMX INT8 units idle (issue 13); with the scales fixed at export, OpenVINO can run the
matrix products on AMX tiles or AVX-512 VNNI. The source is the fused FP32 ONNX that OpenVINO FP32 and
BF16 already run, so the OpenVINO precisions share one graph. ``ModelType.TRANSFORMER`` makes NNCF leave
the element-wise and normalisation operations (residual adds, layer norms) and the attention's output in
floating point, quantise activations asymmetrically (its "mixed" preset), and first scale activation
outliers into the weights (SmoothQuant). Calibration inputs are each text's first window as serving builds
it, one text per call, so no padding enters the ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from humanorai.members.transformer.backends import ONNX_FP32, OPENVINO_INT8, OPENVINO_INT8_WEIGHTS

#: One calibration call's inputs: ``input_ids`` and ``attention_mask``, int64 arrays of shape (1, tokens).
CalibrationInput = dict[str, np.ndarray]


def calibration_sample(texts: Sequence[str], seed: int, size: int) -> list[str]:
    """Up to ``size`` of ``texts``, drawn without replacement with ``seed``: the same texts on every run."""
    chosen = np.random.default_rng(seed).choice(len(texts), size=min(size, len(texts)), replace=False)
    return [texts[index] for index in sorted(chosen)]


def calibration_inputs(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[CalibrationInput]:
    """Each text's first window as the member builds it (special tokens included, ``max_length`` tokens at
    most); ``texts`` must be normalised as serving normalises them."""
    inputs = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_tensors="np")
        inputs.append({name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask")})
    return inputs


def export_openvino_int8(folder: Path, calibration: Sequence[CalibrationInput]) -> list[Path]:
    """Quantise ``folder``'s fused FP32 ONNX to :data:`OPENVINO_INT8` (graph) and :data:`OPENVINO_INT8_WEIGHTS`,
    its activation ranges measured on ``calibration``."""
    import nncf
    import openvino

    model = openvino.Core().read_model(folder / ONNX_FP32)
    quantized = nncf.quantize(model, nncf.Dataset(list(calibration)), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(calibration))
    # What NNCF left in floating point stays FP32 (not FP16), as the FP32 graph had it.
    openvino.save_model(quantized, folder / OPENVINO_INT8, compress_to_fp16=False)
    return [folder / OPENVINO_INT8, folder / OPENVINO_INT8_WEIGHTS]
