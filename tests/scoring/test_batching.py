"""The micro-batcher merges concurrent requests, keeps each caller's results in order, and bounds its queue."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from humanorai.scoring.batching import MicroBatcher, Overloaded
from humanorai.settings import BatchLimits


class RecordingScorer:
    """Scores a text as its upper-case form and records the size of every batch it was given."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.delay_s = delay_s
        self.release = threading.Event()
        self.release.set()

    def __call__(self, texts: list[str]) -> list[str]:
        self.release.wait(5)
        time.sleep(self.delay_s)
        self.batches.append(list(texts))
        return [text.upper() for text in texts]


def test_concurrent_requests_are_merged_and_answered_in_order() -> None:
    scorer = RecordingScorer(delay_s=0.02)
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=50, max_batch_texts=64))
    requests = [[f"r{i}a", f"r{i}b"] for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda texts: batcher.submit(texts).result(timeout=10), requests))
    batcher.close()
    assert results == [[text.upper() for text in texts] for texts in requests]
    assert max(len(batch) for batch in scorer.batches) > 2  # requests really were merged
    assert sum(len(batch) for batch in scorer.batches) == 24


def test_a_batch_respects_max_batch_texts() -> None:
    scorer = RecordingScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1, max_batch_texts=3))
    blocker = batcher.submit(["first"])
    time.sleep(0.05)  # the worker now holds "first" and waits for release
    futures = [batcher.submit([f"t{i}"]) for i in range(7)]
    scorer.release.set()
    blocker.result(timeout=5)
    assert [future.result(timeout=5) for future in futures] == [[f"T{i}"] for i in range(7)]
    batcher.close()
    assert all(len(batch) <= 3 for batch in scorer.batches)


def test_a_full_queue_refuses_with_overloaded() -> None:
    scorer = RecordingScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1, max_batch_texts=2, max_queued_texts=4))
    batcher.submit(["running"])
    time.sleep(0.05)
    batcher.submit(["a", "b"])
    batcher.submit(["c", "d"])
    with pytest.raises(Overloaded, match="already waiting"):
        batcher.submit(["e"])
    scorer.release.set()
    batcher.close()


def test_cancelled_requests_cost_no_compute() -> None:
    scorer = RecordingScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1))
    batcher.submit(["running"])
    time.sleep(0.05)
    abandoned = batcher.submit(["gone away"])
    kept = batcher.submit(["still here"])
    assert abandoned.cancel()
    scorer.release.set()
    assert kept.result(timeout=5) == ["STILL HERE"]
    batcher.close()
    assert ["gone away"] not in scorer.batches and all("gone away" not in batch for batch in scorer.batches)


def test_a_scoring_error_reaches_every_caller_of_the_batch() -> None:
    def broken(texts: list[str]) -> list[str]:
        raise RuntimeError("model crashed")

    batcher = MicroBatcher(broken, BatchLimits(max_wait_ms=20))
    futures = [batcher.submit([str(i)]) for i in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="model crashed"):
            future.result(timeout=5)
    batcher.close()
