"""CUDA graphs of a transformer's forward pass, one per bucket of (rows, tokens), replayed instead of
launching every kernel from Python.

Why: on an H200, BERT-base took 5.5 ms in FP16 for one 512-token window and 8.8 ms for 32 of them (issue
13): a small run's time goes to launching a few hundred kernels one by one, not to arithmetic. A replayed
graph launches them all with one call. A graph runs fixed shapes on fixed memory, so a run is padded up to
the smallest bucket that holds it — extra token positions get the pad id and a zero attention mask, extra
rows a one-token window of the pad id — and only the run's own rows are read back. Padding changes no real
row's logits: masked positions are never attended to and rows never mix (checked on the CPU by
``tests/members/transformer/test_cuda_graphs.py``). Runs wider than every bucket are bound by arithmetic,
not launches, and run eagerly.

Capture follows PyTorch's rules for ``torch.cuda.graph``: warm-up on the side stream that then captures,
static input and output tensors kept alive, no other CUDA work in the process while capturing — so graphs
are captured once, when the backend is built (the engine loads members one at a time), never lazily on a
scoring thread. Each graph is then replayed on inputs unlike those it was captured with and compared with
the eager forward pass; a capture that fails or disagrees leaves the backend eager, with a warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Lengths a run is padded up to: powers of two from this one, then the window length itself.
SHORTEST_LENGTH = 64
#: Rows a run is padded up to (a run holds at most 32 windows).
ROW_BUCKETS = (1, 2, 4, 8, 16, 32)
#: Most token positions (rows × tokens) of a bucket. A wider run is bound by arithmetic (32 × 512 took 8.8 ms
#: eagerly on an H200, about what its arithmetic takes), so padding it up would cost more than launching saves.
MOST_GRAPH_POSITIONS = 4096
#: Largest |Δp_human| between a replayed graph and the eager forward pass before graphs are refused.
PARITY_BOUND = 1e-3
#: Eager runs before a capture, on the capturing stream (libraries set up their handles and workspaces there).
WARM_UP_RUNS = 2

#: The eager forward pass: ``(batch, seq)`` int64 token ids and attention mask in, ``(batch, 2)`` logits out.
Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Bucket:
    """The fixed shape of one captured graph: ``rows`` windows of ``tokens`` positions."""

    rows: int
    tokens: int

    @property
    def positions(self) -> int:
        return self.rows * self.tokens


def graph_buckets(window_length: int) -> list[Bucket]:
    """The buckets worth capturing for windows of at most ``window_length`` tokens, narrowest first."""
    lengths = [SHORTEST_LENGTH << shift for shift in range(16) if SHORTEST_LENGTH << shift < window_length]
    buckets = [Bucket(rows, tokens) for tokens in [*lengths, window_length] for rows in ROW_BUCKETS
               if rows * tokens <= MOST_GRAPH_POSITIONS]
    return sorted(buckets, key=lambda bucket: (bucket.positions, bucket.tokens))


def bucket_for(rows: int, tokens: int, buckets: list[Bucket]) -> Bucket | None:
    """The bucket with the fewest positions that holds a run of ``rows`` × ``tokens``; None when none does."""
    fitting = [bucket for bucket in buckets if bucket.rows >= rows and bucket.tokens >= tokens]
    return min(fitting, key=lambda bucket: (bucket.positions, bucket.tokens), default=None)


def pad_to_bucket(input_ids: np.ndarray, attention_mask: np.ndarray, bucket: Bucket,
                  pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The run padded up to ``bucket``: the run in the top-left corner, extra positions the pad id with mask
    0, and extra rows one attended pad token each (a row with nothing to attend to would give NaN)."""
    rows, tokens = input_ids.shape
    padded_ids = np.full((bucket.rows, bucket.tokens), pad_id, dtype=np.int64)
    padded_mask = np.zeros((bucket.rows, bucket.tokens), dtype=np.int64)
    padded_ids[:rows, :tokens] = input_ids
    padded_mask[:rows, :tokens] = attention_mask
    padded_mask[rows:, 0] = 1
    return padded_ids, padded_mask


@dataclass
class _Graph:
    """One captured forward pass and the tensors it reads and writes on every replay."""

    graph: Any
    input_ids: Any
    attention_mask: Any
    logits: Any


class CapturedForward:
    """A model's forward pass captured as CUDA graphs, one per bucket; :meth:`logits` replays the right one.

    Raises whatever the capture raises; :meth:`capture` is the constructor that falls back to None instead.
    """

    def __init__(self, model: Any, buckets: list[Bucket], pad_id: int) -> None:
        import torch

        self._torch = torch
        self._model = model
        self._pad_id = pad_id
        self._device = next(model.parameters()).device
        self._graphs: dict[Bucket, _Graph] = {}
        #: Replays share their graph's tensors: one run at a time fills, replays and reads them.
        self._lock = threading.Lock()
        #: Captures, then replays, on a stream of this model's own: replays of two members running side by
        #: side overlap on the GPU instead of queueing on the default stream.
        self._stream = torch.cuda.Stream(self._device)
        with torch.no_grad():
            for bucket in buckets:
                self._graphs[bucket] = self._capture(bucket, self._stream)
        torch.cuda.current_stream(self._device).wait_stream(self._stream)
        self.buckets: list[Bucket] = list(self._graphs)

    @classmethod
    def capture(cls, model: Any, window_length: int, pad_id: int, eager: Forward,
                name: str) -> CapturedForward | None:
        """Graphs for windows up to ``window_length`` tokens that agree with ``eager``, or None (logged) when
        no bucket fits, capturing fails or a replay disagrees: the model then runs eagerly."""
        buckets = graph_buckets(window_length)
        if not buckets:
            logger.warning("%s: no CUDA graph bucket fits windows of %d tokens, running eagerly", name, window_length)
            return None
        try:
            captured = cls(model, buckets, pad_id)
            difference = captured.largest_difference(eager, np.random.default_rng(0))
        except Exception as error:  # noqa: BLE001  (any capture failure leaves the eager path, which works)
            logger.warning("%s: CUDA graphs could not be captured, running eagerly: %s", name, error)
            return None
        if not difference <= PARITY_BOUND:
            logger.warning("%s: a CUDA graph's p_human differs from the eager run's by %.2e (> %g), running "
                           "eagerly", name, difference, PARITY_BOUND)
            return None
        logger.info("%s: %d CUDA graphs captured (largest |Δp_human| vs eager %.1e)", name, len(captured.buckets),
                    difference)
        return captured

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray | None:
        """Logits of the run from the smallest bucket that holds it, or None when it fits no bucket."""
        rows, tokens = input_ids.shape
        bucket = bucket_for(rows, tokens, self.buckets)
        return None if bucket is None else self._replay(bucket, input_ids, attention_mask)

    def largest_difference(self, eager: Forward, rng: np.random.Generator) -> float:
        """Largest |Δp_human| between each graph and ``eager``, on random windows of random lengths (not the
        inputs the graphs were captured with; fewer rows than the bucket too), each run eagerly at its own
        unpadded width."""
        from humanorai.members.transformer.member import softmax_human

        vocab = int(self._model.config.vocab_size)
        largest = 0.0
        for bucket in self.buckets:
            lengths = rng.integers(1, bucket.tokens + 1, size=int(rng.integers(1, bucket.rows + 1)))
            input_ids = np.full((len(lengths), int(lengths.max())), self._pad_id, dtype=np.int64)
            attention_mask = np.zeros_like(input_ids)
            for row, length in enumerate(lengths):
                input_ids[row, :length] = rng.integers(0, vocab, size=length)
                attention_mask[row, :length] = 1
            replayed = self._replay(bucket, input_ids, attention_mask)
            expected = eager(input_ids, attention_mask)
            largest = max(largest, float(np.max(np.abs(softmax_human(replayed) - softmax_human(expected)))))
        return largest

    def _replay(self, bucket: Bucket, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits of the run, padded up to ``bucket`` and replayed through its graph."""
        padded_ids, padded_mask = pad_to_bucket(input_ids, attention_mask, bucket, self._pad_id)
        captured = self._graphs[bucket]
        with self._lock, self._torch.cuda.stream(self._stream):
            captured.input_ids.copy_(self._torch.from_numpy(padded_ids))
            captured.attention_mask.copy_(self._torch.from_numpy(padded_mask))
            captured.graph.replay()
            logits = captured.logits.float().cpu().numpy()
        return np.asarray(logits[:len(input_ids)], dtype=np.float64)

    def _capture(self, bucket: Bucket, stream: Any) -> _Graph:
        torch = self._torch
        input_ids = torch.full((bucket.rows, bucket.tokens), self._pad_id, dtype=torch.int64, device=self._device)
        attention_mask = torch.ones_like(input_ids)
        if bucket.tokens > 1:
            # A padded position makes the library build the attention mask in the warm-up too, as it always
            # does while capturing, so every kernel the graph records has run once before.
            attention_mask[:, -1] = 0
        stream.wait_stream(torch.cuda.current_stream(self._device))  # the tensors above are filled
        with torch.cuda.stream(stream):
            for _ in range(WARM_UP_RUNS):
                self._model(input_ids=input_ids, attention_mask=attention_mask)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            logits = self._model(input_ids=input_ids, attention_mask=attention_mask).logits
        return _Graph(graph, input_ids, attention_mask, logits)
