"""A live ``humanorai serve`` on the tiny bundle, reached over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import humanorai_command

#: Limits small enough to test without huge payloads.
TEST_LIMITS = {"HUMANORAI_MAX_TEXT_CHARS": "20000", "HUMANORAI_MAX_BATCH_TEXTS": "4"}


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    ready_answers: list[int]
    #: Status and Retry-After of a POST /predict sent while /ready still said 503.
    predict_while_loading: tuple[int, str | None] | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(bundle: Path | None, log: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start the server (on the built-in demo bundle when ``bundle`` is None), then poll /ready from the
    moment the port answers until it says 200."""
    port = free_port()
    env = {**os.environ, "HUMANORAI_BUNDLE": "", **TEST_LIMITS, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    bundle_args = [] if bundle is None else ["--bundle", str(bundle)]
    process = subprocess.Popen(humanorai_command("serve", *bundle_args, "--port", str(port)),
                               stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    answers: list[int] = []
    predict_while_loading = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            status = httpx.get(f"{url}/ready", timeout=5).status_code
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        answers.append(status)
        if status == 200:
            return LiveServer(url, process, answers, predict_while_loading)
        if predict_while_loading is None:
            early = httpx.post(f"{url}/predict", json={"text": "Sent before the models are loaded."}, timeout=5)
            predict_while_loading = (early.status_code, early.headers.get("Retry-After"))
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server not ready in time: {log.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tiny_bundle, tmp_path_factory.mktemp("server") / "server.log")
    yield server
    stop_server(server)
