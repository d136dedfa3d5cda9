"""BERT and RoBERTa members: ONNX Runtime or OpenVINO on CPU, PyTorch on CUDA (FP16) or CPU (FP32).

Text goes through the bundle's normalisation, then the fast tokenizer. A text longer than ``max_length``
tokens is scored as overlapping windows (``stride`` tokens shared between neighbours) in the same batch,
and the windows' scores are combined (mean of logits by default, see :data:`AGGREGATIONS`): nothing is
cut silently, and the number of windows is reported.
Batches are padded to their longest window, not to ``max_length``; on ORT's dynamic INT8, whose result for
a window would move with the windows beside it, each window runs alone. Nothing is downloaded at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from humanorai.errors import SettingsError
from humanorai.members.base import Member, Steps, TextBatch, run_steps
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


#: Most padded tokens in one run of windows on a CPU: a step stays short, so batches take turns often.
CPU_TOKENS_PER_RUN = 1024
#: The same on a GPU, which needs wide runs to be busy: BERT-base took 8.8 ms for 32 windows of 512 tokens on an
#: H200 and 5.5 ms for one (issue 13), so runs of 1024 tokens would leave it waiting on launches.
GPU_TOKENS_PER_RUN = 32 * 512


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
    max_tokens_per_run: int = CPU_TOKENS_PER_RUN
    #: A key of :data:`AGGREGATIONS`.
    aggregation: WindowAggregation = "mean"


class TransformerMember(Member):
    def __init__(self, name: str, folder: Path, normalization: NormalizationSpec, backend: LogitsBackend,
                 windows: WindowSettings, threshold: float = 0.5) -> None:
        # The tokenizer the bundle saved (tokenizer.json), read without the model classes that AutoTokenizer
        # imports and with them PyTorch: seconds of every start on the ONNX and OpenVINO paths.
        from transformers import PreTrainedTokenizerFast

        self.name = name
        self.threshold = threshold
        self.backend = backend
        self._normalization = normalization
        self._windows = windows
        self._tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        self._encoder = plain_encoder(self._tokenizer)
        if windows.max_length > self._tokenizer.model_max_length:
            raise SettingsError(f"{name}: max_length {windows.max_length} exceeds the model's "
                                f"{self._tokenizer.model_max_length} tokens")
        self._prefix, self._suffix = special_tokens(self._tokenizer)
        #: Text tokens per window: the window less its special tokens.
        self._room = windows.max_length - len(self._prefix) - len(self._suffix)
        if not 0 <= windows.stride < self._room:
            raise SettingsError(f"{name}: stride {windows.stride} must be below the {self._room} text tokens "
                                "of a window")
        if windows.aggregation not in AGGREGATIONS:
            raise SettingsError(f"window aggregation must be one of {', '.join(AGGREGATIONS)}, "
                                f"not {windows.aggregation!r}")

    @property
    def description(self) -> str:
        return self.backend.description

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        return run_steps(self.scoring(batch))

    def scoring(self, batch: TextBatch) -> Steps[np.ndarray]:
        """Tokenise and cut into windows (one step), then one step per run of windows through the model."""
        windows, owner_of = self._windows_of(batch)
        logits = np.empty((len(windows), 2))
        for chosen in self._runs_by_length(windows):
            yield
            logits[chosen] = self._run(windows, chosen)
        margins = human_margin(logits)
        batch.annotate(self.name, "windows", np.bincount(owner_of, minlength=len(batch)))
        aggregate = AGGREGATIONS[self._windows.aggregation]
        return expit(np.array([aggregate(margins[owner_of == index]) for index in range(len(batch))]))

    def cost(self, batch: TextBatch) -> np.ndarray:
        """Token positions of every window the scoring would build (from the same spans, without building
        them)."""
        return self._positions([len(ids) for ids in self._token_ids(batch)])

    def cost_bound(self, batch: TextBatch) -> np.ndarray:
        """The cost of as many tokens as the text has UTF-8 bytes, plus one: a WordPiece or byte-level BPE
        token covers at least one byte (one more allows for a tokenizer's leading word marker)."""
        return self._positions([len(text.encode("utf-8", "surrogatepass")) + 1
                                for text in batch.normalized(self._normalization)])

    def _positions(self, token_counts: list[int]) -> np.ndarray:
        """Token positions of the windows over texts of ``token_counts`` tokens, special tokens included."""
        specials = self._windows.max_length - self._room
        return np.array([sum(end - start + specials for start, end in window_spans(count, self._room,
                                                                                  self._windows.stride))
                         for count in token_counts], dtype=np.int64)

    def _windows_of(self, batch: TextBatch) -> tuple[list[list[int]], np.ndarray]:
        """Every window's token ids, special tokens included, and the index of the text it belongs to."""
        windows: list[list[int]] = []
        owners: list[int] = []
        for index, ids in enumerate(self._token_ids(batch)):
            for start, end in window_spans(len(ids), self._room, self._windows.stride):
                windows.append([*self._prefix, *ids[start:end], *self._suffix])
                owners.append(index)
        return windows, np.asarray(owners, dtype=np.int64)

    def _token_ids(self, batch: TextBatch) -> list[list[int]]:
        """Each text's token ids, without special tokens and uncut (windows are cut by :func:`window_spans`)."""
        return [encoding.ids for encoding in self._encoder.encode_batch(batch.normalized(self._normalization),
                                                                         add_special_tokens=False)]

    def _run(self, windows: list[list[int]], chosen: list[int]) -> np.ndarray:
        """Logits of the ``chosen`` windows, padded to the longest of them."""
        pad_id = self._tokenizer.pad_token_id
        longest = max(len(windows[index]) for index in chosen)
        input_ids = np.full((len(chosen), longest), pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(chosen), longest), dtype=np.int64)
        for row, index in enumerate(chosen):
            ids = windows[index]
            input_ids[row, :len(ids)] = ids
            attention_mask[row, :len(ids)] = 1
        return self.backend.logits(input_ids, attention_mask)

    def _runs_by_length(self, windows: list[list[int]]) -> list[list[int]]:
        """Window indices grouped into runs, shortest first, each within the run limits; one window a run
        where the backend's result for a window depends on the others beside it."""
        most_windows = self._windows.max_windows_per_run if self.backend.batch_invariant else 1
        runs: list[list[int]] = []
        current: list[int] = []
        for index in np.argsort([len(ids) for ids in windows], kind="stable").tolist():
            padded = (len(current) + 1) * len(windows[index])
            if current and (len(current) >= most_windows
                            or padded > self._windows.max_tokens_per_run):
                runs.append(current)
                current = []
            current.append(index)
        if current:
            runs.append(current)
        return runs


def plain_encoder(tokenizer: Any) -> Any:
    """A private copy of ``tokenizer``'s backend, set once to neither cut nor pad. transformers' wrapper re-sets
    truncation and padding on its shared backend in calls (the saved tokenizer.json has both on, so the first
    call does): while another thread encodes with it, that fails ("Already borrowed", transformers #47085)
    or, as a test here showed, cuts that thread's texts. This copy is never changed after it is made, so any
    number of threads may encode with it."""
    from tokenizers import Tokenizer

    encoder = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    encoder.no_truncation()
    encoder.no_padding()
    encoder.encode_special_tokens = tokenizer.split_special_tokens
    return encoder


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after one sequence (``[CLS]``/``[SEP]``, ``<s>``/``</s>``), read
    from how it encodes a word with and without them."""
    plain = tokenizer("text", add_special_tokens=False)["input_ids"]
    framed = tokenizer("text", add_special_tokens=True)["input_ids"]
    for start in range(len(framed) - len(plain) + 1):
        if framed[start:start + len(plain)] == plain:
            return list(framed[:start]), list(framed[start + len(plain):])
    raise SettingsError("the tokenizer's special tokens could not be told apart from the text's")


def window_spans(length: int, room: int, stride: int) -> list[tuple[int, int]]:
    """[start, end) of each window over ``length`` tokens: ``room`` tokens each, neighbours sharing
    ``stride``, the last one ending at the text's end — the windows a fast tokenizer's overflow makes, cut
    here so that they do not depend on the tokenizer library's version."""
    step = room - stride
    count = 1 if length <= room else 1 + -(-(length - room) // step)
    return [(index * step, min(index * step + room, length)) for index in range(count)]


def human_margin(logits: np.ndarray) -> np.ndarray:
    """HUMAN-minus-AI logit of each row of 2-class logits (class 1 = HUMAN): its sigmoid is the softmax's
    P(HUMAN), and averaging margins equals averaging logits."""
    return np.asarray(logits[:, 1] - logits[:, 0], dtype=np.float64)


def softmax_human(logits: np.ndarray) -> np.ndarray:
    """P(HUMAN) from 2-class logits, stable for large logits."""
    return np.asarray(expit(human_margin(logits)))
