"""Starting a server process (the success path runs under every live-server test)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from humanorai.server.process import free_port, start_server


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"exited with status 2: .*no such bundle folder"):
        start_server(["--bundle", str(tmp_path / "missing")], tmp_path / "server.log")


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
