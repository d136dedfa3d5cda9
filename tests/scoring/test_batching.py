"""The micro-batcher merges concurrent requests, keeps each caller's results in order, bounds its queue,
takes batches in turn step by step, and stops a batch whose callers have all gone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from humanorai.members.base import Steps
from humanorai.scoring.batching import MicroBatcher, Overloaded
from humanorai.settings import BatchLimits


class RecordingScorer:
    """Scores a text as its upper-case form, in as many steps as the text has ``+`` signs plus one, and
    records every batch it was given and which batch ran each step."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.steps: list[str] = []
        self.delay_s = delay_s
        self.release = threading.Event()
        self.release.set()

    def __call__(self, texts: list[str]) -> Steps[list[str]]:
        self.batches.append(list(texts))
        label = texts[0]
        for _ in range(sum(text.count("+") for text in texts)):
            self._work(label)
            yield
        self._work(label)
        return [text.upper() for text in texts]

    def _work(self, label: str) -> None:
        self.release.wait(5)
        time.sleep(self.delay_s)
        self.steps.append(label)


class StopCounter:
    def __init__(self) -> None:
        self.stopped = 0
        self.batches = 0

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None:
        self.batches += 1

    def on_stopped(self, texts: int) -> None:
        self.stopped += texts


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
    def broken(texts: list[str]) -> Steps[list[str]]:
        yield
        raise RuntimeError("model crashed")

    batcher = MicroBatcher(broken, BatchLimits(max_wait_ms=20))
    futures = [batcher.submit([str(i)]) for i in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="model crashed"):
            future.result(timeout=5)
    batcher.close()


def test_a_short_request_waits_one_step_of_a_long_batch_not_all_of_it() -> None:
    scorer = RecordingScorer(delay_s=0.01)
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1))
    long = batcher.submit(["long" + "+" * 40])
    while len(scorer.steps) < 3:
        time.sleep(0.005)
    short = batcher.submit(["short+"])  # two steps
    assert short.result(timeout=10) == ["SHORT+"]
    assert long.result(timeout=10) == ["LONG" + "+" * 40]
    batcher.close()
    first = scorer.steps.index("short+")
    # Turns alternate: between the short batch's two steps and after it, one long step at most.
    assert scorer.steps[first:first + 3] == ["short+", "long" + "+" * 40, "short+"]
    assert scorer.steps.count("long" + "+" * 40) == 41


def test_a_running_batch_whose_callers_all_left_stops_between_steps() -> None:
    scorer = RecordingScorer(delay_s=0.01)
    counter = StopCounter()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1), counter)
    heavy = batcher.submit(["heavy" + "+" * 200])
    while len(scorer.steps) < 3:
        time.sleep(0.005)
    assert heavy.cancel()  # the caller gives up while its batch runs
    after = batcher.submit(["after"])
    assert after.result(timeout=10) == ["AFTER"]
    batcher.close()
    assert scorer.steps.count("heavy" + "+" * 200) < 10
    assert counter.stopped == 1 and counter.batches == 1


def test_a_batch_runs_on_while_one_of_its_callers_remains() -> None:
    scorer = RecordingScorer()
    scorer.release.clear()
    counter = StopCounter()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=200), counter)
    leaving = batcher.submit(["a+++"])
    staying = batcher.submit(["b"])
    while not scorer.batches:
        time.sleep(0.005)
    assert scorer.batches == [["a+++", "b"]]  # merged into one batch
    assert leaving.cancel()
    scorer.release.set()
    assert staying.result(timeout=10) == ["B"]
    batcher.close()
    assert counter.stopped == 0 and counter.batches == 1


def test_a_text_long_in_tokens_is_not_merged_with_short_ones_it_would_hold_up() -> None:
    scorer = RecordingScorer(delay_s=0.005)
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=100, max_batch_tokens=16384))
    heavy_text = "字" * 6000 + "+" * 30  # 6,030 characters, but 18,030 UTF-8 bytes: past the batch budget
    heavy = batcher.submit([heavy_text])
    short = batcher.submit(["short"])
    assert short.result(timeout=10) == ["SHORT"]
    assert not heavy.done()  # answered while the heavy text is still being scored
    heavy.result(timeout=10)
    batcher.close()
    assert scorer.batches == [[heavy_text], ["short"]]


def test_requests_for_another_scoring_are_not_merged_and_keep_their_turn() -> None:
    documents, segments = RecordingScorer(), RecordingScorer()
    documents.release.clear()
    batcher = MicroBatcher(documents, BatchLimits(max_wait_ms=1, max_batch_texts=64))
    blocker = batcher.submit(["first"])
    time.sleep(0.05)  # the worker now holds "first" and waits for release
    queued = [batcher.submit(["d1"]), batcher.submit(["s1"], segments), batcher.submit(["s2"], segments),
              batcher.submit(["d2"])]
    documents.release.set()
    assert [future.result(timeout=5) for future in [blocker, *queued]] == [["FIRST"], ["D1"], ["S1"], ["S2"], ["D2"]]
    batcher.close()
    assert documents.batches == [["first"], ["d1"], ["d2"]]
    assert segments.batches == [["s1", "s2"]]


def test_requests_submitted_together_are_queued_together_or_refused_together() -> None:
    scorer, other = RecordingScorer(), RecordingScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, BatchLimits(max_wait_ms=1, max_queued_texts=4))
    blocker = batcher.submit(["first"])
    time.sleep(0.05)  # the worker holds "first"; the queue is empty
    alone = batcher.submit_together([(["a"], None), ([f"s{i}" for i in range(6)], other)])  # more than the limit
    with pytest.raises(Overloaded):
        batcher.submit_together([(["b"], None), (["t"], other)])  # the queue is no longer empty
    assert batcher.queued_texts == 7
    scorer.release.set()
    assert [future.result(timeout=5) for future in [blocker, *alone]] == [
        ["FIRST"], ["A"], [f"S{i}" for i in range(6)]]
    batcher.close()
    assert scorer.batches == [["first"], ["a"]]
