"""Prometheus metrics of the service: requests, latency, member time, cache, queue and batches.

Each app gets its own registry, so several apps (tests) never share counters.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from humanorai.scoring.engine import EngineObserver

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics(EngineObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("humanorai_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("humanorai_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.member_seconds = Histogram("humanorai_member_seconds", "Inference time per member and batch",
                                        ["member"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.cache = Counter("humanorai_cache_lookups", "Prediction cache lookups", ["result"],
                             registry=self.registry)
        self.batch_texts = Histogram("humanorai_batch_texts", "Texts per micro-batch",
                                     buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.batch_tokens = Histogram("humanorai_batch_tokens", "Estimated tokens per micro-batch",
                                      buckets=(64, 256, 1024, 4096, 16384, 65536), registry=self.registry)
        self.dropped = Counter("humanorai_dropped_requests",
                               "Requests given up before their answer: client gone or deadline passed",
                               ["reason"], registry=self.registry)
        self.stopped = Counter("humanorai_stopped_texts",
                               "Texts whose scoring stopped part-way because every caller had given up",
                               registry=self.registry)
        self.queue_depth = Gauge("humanorai_queue_depth", "Texts waiting for a micro-batch", registry=self.registry)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)

    def on_member(self, member: str, seconds: float) -> None:
        self.member_seconds.labels(member=member).observe(seconds)

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None:
        self.batch_texts.observe(texts)
        self.batch_tokens.observe(tokens)

    def on_stopped(self, texts: int) -> None:
        self.stopped.inc(texts)

    def on_cache(self, hit: bool) -> None:
        self.cache.labels(result="hit" if hit else "miss").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
