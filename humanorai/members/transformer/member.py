"""BERT and RoBERTa members: ONNX Runtime or OpenVINO on CPU, PyTorch on CUDA (FP16) or CPU (FP32).

Text goes through the bundle's normalisation, then the fast tokenizer. A text longer than ``max_length``
tokens is scored as overlapping windows (``stride`` tokens shared between neighbours) in the same batch,
and the windows' scores are combined (mean of logits by default, see :data:`AGGREGATIONS`): nothing is
cut silently, and the number of windows is reported.
Batches are padded to their longest window, not to ``max_length``. Nothing is downloaded at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from humanorai.errors import SettingsError
from humanorai.members.base import Member, TextBatch
from humanorai.members.transformer.backends import LogitsBackend
from humanorai.settings import WindowAggregation
from humanorai.text import NormalizationSpec

#: How a long text's windows make one score, each applied to the windows' HUMAN-minus-AI logit margins
#: (``mean`` equals averaging the logits). ``mean`` weighs every part alike; ``min`` lets the most AI-like
#: window decide, for texts that may be partly AI-written; ``max`` the most human-like; ``median`` ignores a
#: few outlying windows.
AGGREGATIONS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda margins: float(np.mean(margins)),
    "median": lambda margins: float(np.median(margins)),
    "min": lambda margins: float(np.min(margins)),
    "max": lambda margins: float(np.max(margins)),
}


@dataclass(frozen=True)
class WindowSettings:
    #: Longest window in tokens, special tokens included.
    max_length: int = 512
    #: Tokens shared by neighbouring windows of a long text.
    stride: int = 128
    #: Most windows run through the model at once (bounds memory on very long batches).
    max_windows_per_run: int = 32
    #: Most padded tokens (windows x longest window) in one run: windows of similar length run together,
    #: so short texts are not padded to the length of the longest one in a batch.
    max_tokens_per_run: int = 1024
    #: A key of :data:`AGGREGATIONS`.
    aggregation: WindowAggregation = "mean"


class TransformerMember(Member):
    def __init__(self, name: str, folder: Path, normalization: NormalizationSpec, backend: LogitsBackend,
                 windows: WindowSettings, threshold: float = 0.5) -> None:
        from transformers import AutoTokenizer

        self.name = name
        self.threshold = threshold
        self.backend = backend
        self._normalization = normalization
        self._windows = windows
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        if windows.max_length > self._tokenizer.model_max_length:
            raise SettingsError(f"{name}: max_length {windows.max_length} exceeds the model's "
                                f"{self._tokenizer.model_max_length} tokens")
        room = windows.max_length - self._tokenizer.num_special_tokens_to_add()
        if not 0 <= windows.stride < room:
            raise SettingsError(f"{name}: stride {windows.stride} must be below the {room} text tokens of a window")
        if windows.aggregation not in AGGREGATIONS:
            raise SettingsError(f"window aggregation must be one of {', '.join(AGGREGATIONS)}, "
                                f"not {windows.aggregation!r}")

    @property
    def description(self) -> str:
        return self.backend.description

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        encoded = self._tokenizer(
            batch.normalized(self._normalization), truncation=True,
            max_length=self._windows.max_length, stride=self._windows.stride, return_overflowing_tokens=True,
        )
        owners = np.asarray(encoded["overflow_to_sample_mapping"])
        margins = human_margin(self._run_windows(encoded["input_ids"]))
        counts = np.bincount(owners, minlength=len(batch))
        batch.annotate(self.name, "windows", counts)
        aggregate = AGGREGATIONS[self._windows.aggregation]
        return expit(np.array([aggregate(margins[owners == index]) for index in range(len(batch))]))

    def _run_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Logits of every window; windows of similar length run together to limit padding."""
        logits = np.empty((len(windows), 2))
        pad_id = self._tokenizer.pad_token_id
        for chosen in self._runs_by_length(windows):
            longest = len(windows[chosen[-1]])
            input_ids = np.full((len(chosen), longest), pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(chosen), longest), dtype=np.int64)
            for row, index in enumerate(chosen):
                ids = windows[index]
                input_ids[row, :len(ids)] = ids
                attention_mask[row, :len(ids)] = 1
            logits[chosen] = self.backend.logits(input_ids, attention_mask)
        return logits

    def _runs_by_length(self, windows: list[list[int]]) -> list[list[int]]:
        """Window indices grouped into runs, shortest first, each within the run limits."""
        runs: list[list[int]] = []
        current: list[int] = []
        for index in np.argsort([len(ids) for ids in windows], kind="stable").tolist():
            padded = (len(current) + 1) * len(windows[index])
            if current and (len(current) >= self._windows.max_windows_per_run
                            or padded > self._windows.max_tokens_per_run):
                runs.append(current)
                current = []
            current.append(index)
        if current:
            runs.append(current)
        return runs


def human_margin(logits: np.ndarray) -> np.ndarray:
    """HUMAN-minus-AI logit of each row of 2-class logits (class 1 = HUMAN): its sigmoid is the softmax's
    P(HUMAN), and averaging margins equals averaging logits."""
    return np.asarray(logits[:, 1] - logits[:, 0], dtype=np.float64)


def softmax_human(logits: np.ndarray) -> np.ndarray:
    """P(HUMAN) from 2-class logits, stable for large logits."""
    return np.asarray(expit(human_margin(logits)))
