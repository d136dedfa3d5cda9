"""Run ``humanorai serve`` as a child process on a free local port and wait until /ready says 200.

The load benchmark and the live-server tests need a real server process; this is the one way they start
and stop it. Models load in the background after the port opens, so readiness is polled, and every
answer before 200 can be observed (the tests check that a loading server says 503, not that it hangs).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 20.0) -> None:
        """Ask the server to shut down (SIGTERM); kill it if it has not within ``timeout_s``."""
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(serve_args: list[str], log: Path, env: Mapping[str, str] | None = None, timeout_s: float = 180.0,
                 on_loading: Callable[[str, int], None] | None = None) -> ServerProcess:
    """Start ``humanorai serve SERVE_ARGS --port P`` with its output in ``log`` and return once it is ready.

    ``env`` is added to this process's environment. ``on_loading(url, status)`` sees each /ready answer
    before the 200. Raises ``RuntimeError`` with the log when the server exits or is not ready in time.
    """
    port = free_port()
    command = [sys.executable, "-m", "humanorai", "serve", *serve_args, "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}: {log.read_text()}")
        try:
            status = httpx.get(f"{server.url}/ready", timeout=5).status_code
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if status == 200:
            return server
        if on_loading is not None:
            on_loading(server.url, status)
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server not ready within {timeout_s:.0f} s: {log.read_text()}")
