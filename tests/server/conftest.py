"""A live ``humanorai serve`` on the tiny bundle, reached over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from benchmarks.server_process import ServerProcess
from benchmarks.server_process import start_server as start_process

#: Limits small enough to test without huge payloads.
TEST_LIMITS = {"HUMANORAI_MAX_TEXT_CHARS": "20000", "HUMANORAI_MAX_BATCH_TEXTS": "4"}


@dataclass
class LiveServer:
    server: ServerProcess
    #: Every /ready status, the last being 200.
    ready_answers: list[int]
    #: Status and Retry-After of a POST /predict sent while /ready still said 503.
    predict_while_loading: tuple[int, str | None] | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def start_server(bundle: Path | None, log: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start the server (on the built-in demo bundle when ``bundle`` is None); while it loads, record the
    /ready answers and send one /predict, whose answer the tests check."""
    answers: list[int] = []
    early: list[tuple[int, str | None]] = []

    def while_loading(url: str, status: int) -> None:
        answers.append(status)
        if not early:
            reply = httpx.post(f"{url}/predict", json={"text": "Sent before the models are loaded."}, timeout=5)
            early.append((reply.status_code, reply.headers.get("Retry-After")))

    env = {"HUMANORAI_BUNDLE": "", **TEST_LIMITS, **(extra_env or {})}
    bundle_args = [] if bundle is None else ["--bundle", str(bundle)]
    server = start_process(bundle_args, log, env, timeout_s=120, on_loading=while_loading)
    return LiveServer(server, [*answers, 200], early[0] if early else None)


def stop_server(server: LiveServer) -> None:
    server.server.stop()


@pytest.fixture(scope="session")
def live_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tiny_bundle, tmp_path_factory.mktemp("server") / "server.log")
    yield server
    stop_server(server)
