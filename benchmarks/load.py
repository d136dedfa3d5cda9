"""Load test of `humanorai serve` on loopback: N concurrent clients, micro-batching on vs off, in one run.

For each mode the script starts its own server (127.0.0.1, a free port, the prediction cache off so every
request is computed), waits for /ready, then runs N clients that each send POST /predict back to back for
a fixed duration with distinct texts from the corpus. It reports throughput, p50/p95/p99 latency and
errors. Bounded in time and count; it sends traffic only to 127.0.0.1.
Usage: python -m benchmarks.load --bundle DIR [--corpus CSV] [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks.environment import cpu_model, traffic_options
from benchmarks.server_process import start_server

MAX_REQUESTS_PER_MODE = 100_000


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def run_clients(url: str, texts: list[str], clients: int, seconds: float) -> Outcome:
    outcome = Outcome()
    counter = iter(range(MAX_REQUESTS_PER_MODE))
    stop_at = time.perf_counter() + seconds

    async def client(session: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            index = next(counter, None)
            if index is None:
                return
            started = time.perf_counter()
            try:
                response = await session.post("/predict", json={"text": texts[index % len(texts)]})
            except httpx.HTTPError as error:
                outcome.error(type(error).__name__)
                continue
            if response.status_code == 200:
                outcome.latencies_ms.append(1000.0 * (time.perf_counter() - started))
            else:
                outcome.error(f"HTTP {response.status_code}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    outcome.seconds = time.perf_counter() - started
    return outcome


def main() -> None:
    parser = traffic_options(__doc__, clients=32, seconds=60.0)
    args = parser.parse_args()
    texts = pd.read_csv(args.corpus)["text"].sample(frac=1.0, random_state=0).tolist()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); {args.clients} clients for {args.seconds:.0f} s per mode; "
          f"bundle {args.bundle}; cache off; distinct texts from {args.corpus.name}\n")
    print("| mode | requests | throughput (req/s) | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    throughput = {}
    for batching in (True, False):
        log = Path(f"/tmp/humanorai-load-{'batching' if batching else 'plain'}.log")
        env = {"HUMANORAI_CACHE_SIZE": "0", "HUMANORAI_BATCHING": "1" if batching else "0",
               "HUMANORAI_MAX_CONCURRENT_REQUESTS": "256"}
        server = start_server(["--bundle", str(args.bundle), "--log-level", "warning"], log, env)
        try:
            asyncio.run(run_clients(server.url, texts, 4, 3.0))  # warm-up, not counted
            outcome = asyncio.run(run_clients(server.url, texts, args.clients, args.seconds))
        finally:
            server.stop(timeout_s=30)
        mode = "micro-batching on" if batching else "micro-batching off"
        throughput[batching] = len(outcome.latencies_ms) / outcome.seconds
        p50, p95, p99 = (np.percentile(outcome.latencies_ms, q) if outcome.latencies_ms else float("nan")
                         for q in (50, 95, 99))
        errors = ", ".join(f"{kind}: {count}" for kind, count in outcome.errors.items()) or "0"
        print(f"| {mode} | {len(outcome.latencies_ms)} | {throughput[batching]:.2f} | {p50:.0f} | {p95:.0f} | "
              f"{p99:.0f} | {errors} |", flush=True)
    speed_up = throughput[True] / throughput[False]
    print(f"\nbatching speed-up: {speed_up:.2f}x (target >= 1.5x on transformer-heavy load)")


if __name__ == "__main__":
    main()
