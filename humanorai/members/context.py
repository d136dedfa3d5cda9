"""What member loaders get from a verified bundle: its folder, manifest and shared resources.

Shared resources (the TF-IDF vectorizer) are loaded at most once per bundle and only when a member asks
for them, so a bundle of transformers alone never reads TF-IDF files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from humanorai.bundle import Manifest
from humanorai.members.tfidf import TfidfFeatures

TFIDF_DIR = "tfidf"


WindowAggregation = Literal["mean", "median", "min", "max"]


@dataclass(frozen=True)
class TransformerRuntime:
    """How transformer members run on this machine (chosen at serve time, not stored in the bundle)."""

    backend: Literal["auto", "onnx", "openvino", "torch"] = "auto"
    precision: Literal["auto", "int8", "fp32", "fp16", "bf16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: Threads per inference call; ``None`` uses every core.
    threads: int | None = None
    #: Window length in tokens; ``None`` uses the length the member was trained with.
    max_length: int | None = None
    #: Tokens shared by neighbouring windows of a long text; ``None``: a quarter of the window.
    stride: int | None = None
    #: How a long text's windows make one score (see ``members.transformer.AGGREGATIONS``).
    window_aggregation: WindowAggregation = "mean"


class BundleContext:
    def __init__(self, root: Path, manifest: Manifest,
                 transformer_runtime: TransformerRuntime | None = None) -> None:
        self.root = root
        self.manifest = manifest
        self.transformer_runtime = transformer_runtime or TransformerRuntime()

    @cached_property
    def tfidf(self) -> TfidfFeatures:
        return TfidfFeatures.load(self.root / TFIDF_DIR)

    @property
    def has_tfidf(self) -> bool:
        return "tfidf" in self.manifest.preprocessing
