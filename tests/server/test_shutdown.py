"""A signal drains the server: requests accepted before SIGTERM are answered, then it exits 0 (the JVM of
the in-process MOJOs runs with -Xrs and leaves the signal to Python: no crash file, no lost answer)."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import start_server
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
LONG_TEXTS = [" ".join(row["text"] for row in make_rows(12, seed=seed)) for seed in range(6)]


def crash_files() -> set[Path]:
    return set(Path.cwd().glob("hs_err_pid*.log"))


def test_sigterm_with_requests_in_flight_answers_them_all_and_exits_zero(tiny_bundle: Path, tmp_path: Path) -> None:
    before = crash_files()
    server = start_server(tiny_bundle, tmp_path / "server.log",
                          {"HUMANORAI_CACHE_SIZE": "0", "HUMANORAI_BATCH_WAIT_MS": "500"})
    with ThreadPoolExecutor(len(LONG_TEXTS)) as pool:
        answers = [pool.submit(httpx.post, f"{server.url}/predict", json={"text": text}, timeout=60)
                   for text in LONG_TEXTS]
        time.sleep(0.3)  # every request is accepted and waiting for its micro-batch
        server.server.process.send_signal(signal.SIGTERM)
        statuses = [answer.result().status_code for answer in answers]
    assert statuses == [200] * len(LONG_TEXTS)
    assert server.server.process.wait(timeout=30) == 0
    assert crash_files() == before
    with pytest.raises(httpx.TransportError):  # it no longer accepts
        httpx.get(f"{server.url}/health", timeout=2)


def test_sigterm_when_idle_exits_zero_with_the_h2o_members_loaded(tiny_bundle: Path, tmp_path: Path) -> None:
    before = crash_files()
    log = tmp_path / "server.log"
    server = start_server(tiny_bundle, log)
    assert httpx.get(f"{server.url}/ready").json()["members"]["GLM"].startswith("in-process MOJO")  # the JVM is up
    server.server.process.send_signal(signal.SIGTERM)
    assert server.server.process.wait(timeout=30) == 0
    assert "stopped by SIGTERM" in log.read_text() and crash_files() == before
