"""Merge concurrent requests into micro-batches, and share the scorer fairly between batches.

Modelled on text-embeddings-inference's queue: the limits are passed in once, requests wait at most
``max_wait_ms`` for company, a batch never exceeds ``max_batch_texts`` texts or ``max_batch_tokens``
tokens counted as UTF-8 bytes, and at most ``max_queued_texts`` texts wait at once — past that :meth:`submit` refuses
with :class:`Overloaded` instead of letting memory grow.

A request may name its own scoring (the engine scores segments with fewer members than whole texts); only
requests with the same scoring are merged, and requests are still taken in the order they came.

Scoring runs in steps (a transformer's step is one run of windows). One worker thread takes the batches in
progress in turn, one step each, so a batch of short texts that arrives while a long text is being scored
waits at most one of its steps, not the whole text. Between two steps a batch whose callers have all gone
(their futures cancelled: client disconnected, deadline passed) is stopped and costs nothing more.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from humanorai.errors import HumanoraiError
from humanorai.members.base import Steps
from humanorai.settings import BatchLimits

Result = TypeVar("Result")
#: What scores a batch's texts, step by step.
Scoring = Callable[[list[str]], Steps[list[Result]]]


class Overloaded(HumanoraiError):
    """Too many texts are waiting; the caller should retry later."""


class BatchObserver(Protocol):
    """What the batcher reports (the engine's observer; the server turns it into metrics)."""

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None: ...

    def on_stopped(self, texts: int) -> None: ...


@dataclass
class _Request(Generic[Result]):
    texts: list[str]
    #: Never set running: cancelling it (the caller has gone) stays possible until its result is set.
    future: Future[list[Result]]
    enqueued: float
    scoring: Scoring[Result]

    @property
    def tokens(self) -> int:
        """Its size before tokenising, as UTF-8 bytes: a token is at least one byte, so a text long in tokens
        (CJK, emoji) is never taken for a short one and merged into a batch of short texts it would hold up."""
        return sum(len(text.encode("utf-8", "surrogatepass")) for text in self.texts)


@dataclass
class _Batch(Generic[Result]):
    """Merged requests and their scoring, in progress."""

    requests: list[_Request[Result]]
    steps: Steps[list[Result]]
    waited_ms: float

    @property
    def abandoned(self) -> bool:
        return all(request.future.cancelled() for request in self.requests)


class MicroBatcher(Generic[Result]):
    """One worker thread that scores merged requests step by step, batches in progress taking turns."""

    def __init__(self, scoring: Scoring[Result], limits: BatchLimits, observer: BatchObserver | None = None) -> None:
        self._scoring = scoring
        self.limits = limits
        self._observer = observer
        self._queue: deque[_Request[Result]] = deque()
        self._queued_texts = 0
        self._condition = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="humanorai-batcher", daemon=True)
        self._worker.start()

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    def submit(self, texts: list[str], scoring: Scoring[Result] | None = None) -> Future[list[Result]]:
        """Queue ``texts`` for ``scoring`` (default: the batcher's); the future resolves to their results, in
        order. Cancel it to give up: the work stops at the next step if no other caller shares its batch."""
        return self.submit_together([(texts, scoring)])[0]

    def submit_together(self, parts: Sequence[tuple[list[str], Scoring[Result] | None]]) -> list[Future[list[Result]]]:
        """Queue one caller's texts that need different scorings (a text and its segments) as one: all of
        them or, when the queue is too full for them together, none (:class:`Overloaded`). A caller alone
        in the queue is always accepted, however many texts it brings."""
        futures: list[Future[list[Result]]] = [Future() for _ in parts]
        texts = sum(len(part) for part, _ in parts)
        with self._condition:
            if self._closed:
                raise Overloaded("the engine is shutting down")
            if self._queued_texts + texts > self.limits.max_queued_texts and self._queue:
                raise Overloaded(f"{self._queued_texts} texts are already waiting; retry shortly")
            enqueued = time.perf_counter()
            for (part, scoring), future in zip(parts, futures, strict=True):
                self._queue.append(_Request(list(part), future, enqueued, scoring or self._scoring))
            self._queued_texts += texts
            self._condition.notify()
        return futures

    def close(self) -> None:
        """Refuse new work, finish what was accepted, and stop the worker."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._worker.join(timeout=5)

    def _run(self) -> None:
        in_progress: deque[_Batch[Result]] = deque()
        while True:
            requests = self._take(wait=not in_progress)
            if requests is None and not in_progress:
                return
            if requests:
                started = time.perf_counter()
                texts = [text for request in requests for text in request.texts]
                waited_ms = 1000.0 * (started - min(request.enqueued for request in requests))
                in_progress.append(_Batch(requests, requests[0].scoring(texts), waited_ms))
            if not in_progress:  # only cancelled requests were waiting
                continue
            batch = in_progress.popleft()
            if batch.abandoned:
                batch.steps.close()
                if self._observer is not None:
                    self._observer.on_stopped(sum(len(request.texts) for request in batch.requests))
                continue
            try:
                next(batch.steps)
            except StopIteration as done:
                self._deliver(batch, done.value)
            except BaseException as error:  # every waiting caller learns why
                for request in batch.requests:
                    with contextlib.suppress(InvalidStateError):
                        request.future.set_exception(error)
            else:
                in_progress.append(batch)

    def _deliver(self, batch: _Batch[Result], results: list[Result]) -> None:
        if self._observer is not None:
            self._observer.on_batch(len(results), sum(request.tokens for request in batch.requests),
                                    batch.waited_ms)
        start = 0
        for request in batch.requests:
            with contextlib.suppress(InvalidStateError):  # its caller gave up while the batch ran
                request.future.set_result(results[start:start + len(request.texts)])
            start += len(request.texts)

    def _take(self, wait: bool) -> list[_Request[Result]] | None:
        """The next micro-batch of waiting requests. With ``wait`` (nothing else in progress), block for
        the first request and give it ``max_wait_ms`` to gather company; otherwise take what is waiting
        now (possibly nothing). None once closed with nothing left."""
        with self._condition:
            if wait:
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
            requests: list[_Request[Result]] = []
            texts = tokens = 0
            while self._queue:
                request = self._queue[0]
                if request.future.cancelled():  # gone before it started: costs nothing
                    self._queue.popleft()
                    self._queued_texts -= len(request.texts)
                    continue
                too_many = texts + len(request.texts) > self.limits.max_batch_texts
                too_long = tokens + request.tokens > self.limits.max_batch_tokens
                if requests and (too_many or too_long or request.scoring is not requests[0].scoring):
                    break
                requests.append(self._queue.popleft())
                texts += len(request.texts)
                tokens += request.tokens
            self._queued_texts -= texts
            return requests

    def _batch_full(self) -> bool:
        texts = sum(len(request.texts) for request in self._queue)
        tokens = sum(request.tokens for request in self._queue)
        return texts >= self.limits.max_batch_texts or tokens >= self.limits.max_batch_tokens
