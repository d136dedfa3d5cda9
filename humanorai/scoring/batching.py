"""Merge concurrent requests into micro-batches, within named limits.

Modelled on text-embeddings-inference's queue: the limits are passed in once, requests wait at most
``max_wait_ms`` for company, a batch never exceeds ``max_batch_texts`` texts or ``max_batch_tokens``
estimated tokens, and at most ``max_queued_texts`` texts wait at once — past that :meth:`submit` refuses
with :class:`Overloaded` instead of letting memory grow. A request whose caller has gone away (its future
cancelled) is dropped before it costs compute.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from humanorai.errors import HumanoraiError
from humanorai.settings import BatchLimits

Result = TypeVar("Result")

#: Rough characters per token for English, used only to bound a batch's size before tokenising.
CHARS_PER_TOKEN = 4


class Overloaded(HumanoraiError):
    """Too many texts are waiting; the caller should retry later."""


@dataclass
class _Request(Generic[Result]):
    texts: list[str]
    future: Future[list[Result]]
    enqueued: float

    @property
    def tokens(self) -> int:
        return sum(len(text) for text in self.texts) // CHARS_PER_TOKEN + 1


class MicroBatcher(Generic[Result]):
    """One worker thread that runs ``score(texts)`` on merged requests and hands each its share back."""

    def __init__(self, score: Callable[[list[str]], list[Result]], limits: BatchLimits,
                 on_batch: Callable[[int, int, float], None] | None = None) -> None:
        self._score = score
        self.limits = limits
        self._on_batch = on_batch
        self._queue: deque[_Request[Result]] = deque()
        self._queued_texts = 0
        self._condition = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="humanorai-batcher", daemon=True)
        self._worker.start()

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    def submit(self, texts: list[str]) -> Future[list[Result]]:
        """Queue ``texts``; the future resolves to their results, in order."""
        future: Future[list[Result]] = Future()
        with self._condition:
            if self._closed:
                raise Overloaded("the engine is shutting down")
            if self._queued_texts + len(texts) > self.limits.max_queued_texts and self._queue:
                raise Overloaded(f"{self._queued_texts} texts are already waiting; retry shortly")
            self._queue.append(_Request(list(texts), future, time.perf_counter()))
            self._queued_texts += len(texts)
            self._condition.notify()
        return future

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._worker.join(timeout=5)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            live = [request for request in batch if request.future.set_running_or_notify_cancel()]
            if not live:
                continue
            texts = [text for request in live for text in request.texts]
            waited_ms = 1000.0 * (time.perf_counter() - min(request.enqueued for request in live))
            try:
                results = self._score(texts)
            except BaseException as error:  # every waiting caller learns why
                for request in live:
                    request.future.set_exception(error)
                continue
            if self._on_batch is not None:
                self._on_batch(len(texts), sum(request.tokens for request in live), waited_ms)
            start = 0
            for request in live:
                request.future.set_result(results[start:start + len(request.texts)])
                start += len(request.texts)

    def _next_batch(self) -> list[_Request[Result]] | None:
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            if self._closed and not self._queue:
                return None
            deadline = self._queue[0].enqueued + self.limits.max_wait_ms / 1000.0
            while not self._batch_full() and not self._closed:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            batch: list[_Request[Result]] = []
            texts = tokens = 0
            while self._queue:
                request = self._queue[0]
                too_many = texts + len(request.texts) > self.limits.max_batch_texts
                too_long = tokens + request.tokens > self.limits.max_batch_tokens
                if batch and (too_many or too_long):
                    break
                batch.append(self._queue.popleft())
                texts += len(request.texts)
                tokens += request.tokens
            self._queued_texts -= texts
            return batch

    def _batch_full(self) -> bool:
        texts = sum(len(request.texts) for request in self._queue)
        tokens = sum(request.tokens for request in self._queue)
        return texts >= self.limits.max_batch_texts or tokens >= self.limits.max_batch_tokens
