"""The service two ways: in process (the app behind FastAPI's TestClient, an httpx client with an ASGI
transport) for routes and errors, and a live ``humanorai serve`` on 127.0.0.1 for what needs real HTTP
(readiness while loading, client disconnects, the browser)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from benchmarks.server_process import ServerProcess
from benchmarks.server_process import start_server as start_process
from humanorai.server.app import create_app
from humanorai.settings import BatchLimits, EngineSettings, ServiceSettings, TransformerSettings

#: Limits small enough to test without huge payloads.
TEST_LIMITS = {"HUMANORAI_MAX_TEXT_CHARS": "20000", "HUMANORAI_MAX_BATCH_TEXTS": "4"}
#: The same limits for an app made in process.
TEST_SETTINGS = ServiceSettings(max_text_chars=20000, max_texts_per_request=4,
                                engine=EngineSettings(batching=BatchLimits()))
#: A backend named outright, so /ready's description is known on any CPU.
TEST_TRANSFORMERS = TransformerSettings(backend="onnx", precision="fp32")


@contextlib.contextmanager
def in_process(bundle: Path, settings: ServiceSettings = TEST_SETTINGS,
               timeout_s: float = 60.0) -> Iterator[TestClient]:
    """A client of the app for ``bundle``, in this process, once the app says it is ready."""
    with TestClient(create_app(bundle, settings, TEST_TRANSFORMERS), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + timeout_s
        while client.get("/ready").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready within {timeout_s:.0f} s: {client.get('/ready').json()}")
            time.sleep(0.05)
        yield client


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


def start_server(bundle: Path | None, log: Path, extra_env: dict[str, str] | None = None,
                 serve_options: list[str] | None = None) -> LiveServer:
    """Start the server (on the built-in demo bundle when ``bundle`` is None), with ``serve_options`` added
    to its command line; while it loads, record the /ready answers and send one /predict, whose answer the
    tests check."""
    answers: list[int] = []
    early: list[tuple[int, str | None]] = []

    def while_loading(url: str, status: int) -> None:
        answers.append(status)
        if not early:
            reply = httpx.post(f"{url}/predict", json={"text": "Sent before the models are loaded."}, timeout=5)
            early.append((reply.status_code, reply.headers.get("Retry-After")))

    env = {"HUMANORAI_BUNDLE": "", **TEST_LIMITS, **(extra_env or {})}
    bundle_args = [] if bundle is None else ["--bundle", str(bundle)]
    server = start_process([*bundle_args, *(serve_options or [])], log, env, timeout_s=120, on_loading=while_loading)
    return LiveServer(server, [*answers, 200], early[0] if early else None)


def stop_server(server: LiveServer) -> None:
    server.server.stop()


@pytest.fixture(scope="module")
def app_client(tiny_bundle: Path) -> Iterator[TestClient]:
    with in_process(tiny_bundle) as client:
        yield client


#: Screenshots of the page tests, and what the browser showed when one failed (``failed/``).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """When a test with a browser fails, add what the page showed and the browser logged to its report, and
    keep a screenshot under test-artifacts/failed/: a timing failure in a headless browser is otherwise hard
    to tell apart from a broken page."""
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.failed and report.when == "call" and browser is not None:
        try:
            seen = browser_state(browser, item.name)
        except Exception as error:  # a browser that died with the test must not turn a failure into a crash
            seen = f"the browser could not be read: {error!r}"
        report.sections.append(("what the browser showed", seen))
        server = item.funcargs.get("live_server")
        if isinstance(server, LiveServer):
            report.sections.append(("what the server said", server_state(server)))
    return report


def server_state(server: LiveServer) -> str:
    """Whether ``server`` answers a client of its own now, and the end of its log: a page waiting on its
    requests is a stalled browser if the server answers, a stuck server if not."""
    started = time.monotonic()
    try:
        answer = f"{httpx.get(f'{server.url}/ready', timeout=5).status_code}"
    except httpx.HTTPError as error:
        answer = f"no answer ({error!r})"
    try:
        lines = server.server.log.read_text(errors="replace").splitlines()
    except OSError as error:  # a report hook must not raise: the failure would become pytest's own
        lines = [f"the log could not be read: {error!r}"]
    return "\n".join([f"GET /ready from a new client: {answer} after {time.monotonic() - started:.2f} s",
                      f"the last {min(len(lines), 20)} of {len(lines)} lines of {server.server.log}:", *lines[-20:]])


def browser_state(browser: Any, test_name: str) -> str:
    """The page's address, its status, error, loading and results text and the browser's console log; the
    same and a screenshot go to a folder of test-artifacts/failed/ named after the test."""
    folder = ARTIFACTS / "failed" / re.sub(r"[^\w.-]+", "_", test_name)
    folder.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(folder / "page.png"))
    console = [f"{entry['level']} {entry['message']}" for entry in browser.get_log("browser")]
    state = browser.execute_script(
        "return ['status', 'error', 'loading', 'results'].map((id) => {"
        " const node = document.getElementById(id);"
        " return node ? `${id}: hidden=${node.hidden} text=${JSON.stringify(node.textContent.trim().slice(0, 300))}`"
        " : `${id}: missing`; });")
    seen = "\n".join([f"url: {browser.current_url}", *state, "console:", *console])
    (folder / "browser.txt").write_text(seen + "\n")
    return f"{seen}\n(screenshot: {folder / 'page.png'})"


@pytest.fixture(scope="session")
def live_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tiny_bundle, tmp_path_factory.mktemp("server") / "server.log")
    yield server
    stop_server(server)
