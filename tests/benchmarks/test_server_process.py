"""Starting a server process (the success path runs under every live-server test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.server_process import start_server


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"exited with status 2: .*no such bundle folder"):
        start_server(["--bundle", str(tmp_path / "missing")], tmp_path / "server.log")
