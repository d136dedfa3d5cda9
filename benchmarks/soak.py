"""Soak test of `humanorai serve`: minutes of mixed traffic, hostile requests included, on loopback.

Starts its own server (127.0.0.1, a free port), then runs client tasks for a fixed duration. Most send
POST /predict and /predict/batch with distinct texts (the corpus when it is there, else generated
sentences); one in five sends something hostile: invalid JSON, a wrong type, an empty or over-long text, a
lone surrogate, a declared or streamed body over the limit, an unknown path, a wrong method, an oversized
header, a heavy text whose client gives up, an idle or half-sent connection. It samples the server's RSS
and reports RSS after a 3-minute warm-up and at the end (goal: growth <= 5 %), p50/p99 latency of the ordinary
requests, the statuses seen, and the 5xx count (goal: 0). Writes the numbers as JSON with --out.
Usage: python -m benchmarks.soak --bundle DIR [--seconds 600] [--clients 16] [--out FILE]
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks.environment import cpu_model, traffic_options
from benchmarks.server_process import start_server

#: Limits the server runs with, small enough that the hostile requests reach them quickly.
SERVER_LIMITS = {"HUMANORAI_MAX_TEXT_CHARS": "20000", "HUMANORAI_MAX_BODY_BYTES": "1000000",
                 "HUMANORAI_HEADER_TIMEOUT_S": "2", "HUMANORAI_REQUEST_TIMEOUT_S": "20",
                 "HUMANORAI_MAX_CONCURRENT_REQUESTS": "256"}
HOSTILE_SHARE = 0.2
#: Time for ONNX Runtime's arenas and the allocator to reach their working size (measured: RSS is flat after
#: about 5 minutes of this traffic); growth is reported from here.
WARM_UP_S = 180.0
RSS_EVERY_S = 2.0


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    hostile: Counter[str] = field(default_factory=Counter)
    rss_mib: list[tuple[float, float]] = field(default_factory=list)


def corpus_texts(corpus: Path) -> list[str]:
    if corpus.is_file():
        return pd.read_csv(corpus)["text"].sample(frac=1.0, random_state=0).tolist()
    words = ["the", "a", "model", "text", "people", "write", "every", "day", "about", "work", "home", "science",
             "music", "travel", "food", "and"]
    generator = random.Random(0)
    return [" ".join(generator.choice(words) for _ in range(generator.randint(40, 300))) for _ in range(2000)]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def raw(url: str, payload: bytes, hold_s: float) -> str:
    """Send raw bytes on a fresh connection and return the status line (or how it ended)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(payload)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=hold_s)
        return line.decode(errors="replace").split(" ", 2)[1] if line else "closed"
    except (TimeoutError, ConnectionError):
        return "closed"
    finally:
        writer.close()


async def streamed_body(size: int) -> AsyncIterator[bytes]:
    yield b'{"text": "'
    for _ in range(size // 100_000):
        yield b"x" * 100_000
    yield b'"}'


def hostile_requests(session: httpx.AsyncClient, url: str) -> dict[str, Callable[[], Awaitable[str]]]:
    """Name → a coroutine that sends one hostile request and returns the status it got (or how it ended)."""

    async def status(method: str, path: str, body: bytes | AsyncIterator[bytes] | None = None,
                     timeout: float = 30) -> str:
        try:
            response = await session.request(method, path, content=body, timeout=timeout,
                                             headers={"Content-Type": "application/json"})
        except httpx.ReadTimeout:
            return "gave up"
        except httpx.TransportError:
            return "closed"
        return str(response.status_code)

    heavy = json.dumps({"text": "".join(chr(0x4E00 + index % 20000) for index in range(19_000))}).encode()
    huge_head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    return {
        "invalid json": lambda: status("POST", "/predict", b'{"text": '),
        "wrong type": lambda: status("POST", "/predict", b'{"text": 42}'),
        "empty text": lambda: status("POST", "/predict", b'{"text": "   "}'),
        "too long": lambda: status("POST", "/predict", json.dumps({"text": "a" * 20_001}).encode()),
        "lone surrogate": lambda: status("POST", "/predict", b'{"text": "x \\ud800 y"}'),
        "declared too large": lambda: status("POST", "/predict", b"{" + b" " * 1_100_000 + b"}"),
        "streamed too large": lambda: status("POST", "/predict", streamed_body(2_000_000)),
        "empty batch": lambda: status("POST", "/predict/batch", b'{"texts": []}'),
        "heavy, client gives up": lambda: status("POST", "/predict", heavy, timeout=0.5),
        "unknown path": lambda: status("GET", f"/{random.randbytes(6).hex()}"),
        "wrong method": lambda: status("TRACE", "/predict"),
        "huge header": lambda: raw(url, huge_head, 10),
        "half-sent head": lambda: raw(url, b"POST /predict HTTP/1.1\r\nHost: x\r\n", 10),
        "idle connection": lambda: raw(url, b"", 10),
    }


async def run(url: str, pid: int, texts: list[str], clients: int, seconds: float) -> Outcome:
    outcome = Outcome()
    started = time.perf_counter()
    stop_at = started + seconds
    counter = iter(range(10**9))

    async def sample_rss() -> None:
        while time.perf_counter() < stop_at:
            outcome.rss_mib.append((time.perf_counter() - started, rss_mib(pid)))
            await asyncio.sleep(RSS_EVERY_S)
        outcome.rss_mib.append((time.perf_counter() - started, rss_mib(pid)))

    async def client(session: httpx.AsyncClient, seed: int) -> None:
        generator = random.Random(seed)
        attacks = hostile_requests(session, url)
        while time.perf_counter() < stop_at:
            if generator.random() < HOSTILE_SHARE:
                name = generator.choice(sorted(attacks))
                status = await attacks[name]()
                outcome.hostile[f"{name}: {status}"] += 1
                outcome.statuses[status] += 1
                continue
            index = next(counter)
            batch = generator.random() < 0.2
            body = ({"texts": [texts[(index + offset) % len(texts)] for offset in range(4)]} if batch
                    else {"text": texts[index % len(texts)]})
            request_started = time.perf_counter()
            try:
                response = await session.post("/predict/batch" if batch else "/predict", json=body)
            except httpx.HTTPError as error:
                outcome.statuses[type(error).__name__] += 1
                continue
            outcome.statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                outcome.latencies_ms.append(1000.0 * (time.perf_counter() - request_started))

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as session:
        await asyncio.gather(sample_rss(), *(client(session, seed) for seed in range(clients)))
    return outcome


def summary(outcome: Outcome, seconds: float) -> dict[str, object]:
    after_warm_up = [rss for at, rss in outcome.rss_mib if at >= min(WARM_UP_S, seconds / 3)]
    start_rss, end_rss = (after_warm_up[0], after_warm_up[-1]) if after_warm_up else (float("nan"),) * 2
    latencies = np.asarray(outcome.latencies_ms or [float("nan")])
    server_errors = sum(count for status, count in outcome.statuses.items() if status.startswith("5"))
    return {
        "seconds": seconds, "ordinary_answers": len(outcome.latencies_ms),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "statuses": dict(sorted(outcome.statuses.items())), "hostile": dict(sorted(outcome.hostile.items())),
        "server_errors": server_errors, "rss_start_mib": round(start_rss, 1), "rss_end_mib": round(end_rss, 1),
        "rss_growth_percent": round(100.0 * (end_rss - start_rss) / start_rss, 2),
        "rss_mib_each_minute": [round(rss, 1) for at, rss in outcome.rss_mib
                                if int(at / 60) != int((at - RSS_EVERY_S) / 60) or at == 0],
    }


def main() -> None:
    parser = traffic_options(__doc__, clients=16, seconds=600.0)
    parser.add_argument("--out", type=Path, help="write the summary here as JSON")
    args = parser.parse_args()
    texts = corpus_texts(args.corpus)
    log = Path(f"/tmp/humanorai-soak-{os.getpid()}.log")
    server = start_server(["--bundle", str(args.bundle), "--log-level", "warning"], log, SERVER_LIMITS)
    try:
        outcome = asyncio.run(run(server.url, server.process.pid, texts, args.clients, args.seconds))
    finally:
        server.stop(timeout_s=30)
    result = {"cpu": f"{cpu_model()} ({os.cpu_count()} cores)", "bundle": str(args.bundle), "clients": args.clients,
              "server_exit_status": server.process.returncode, **summary(outcome, args.seconds)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
