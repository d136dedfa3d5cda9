"""Schemathesis fuzzes the API from its own OpenAPI schema against a live server on the tiny bundle: every
check (no 5xx, status codes, content types and bodies as documented, schema-valid requests accepted,
invalid ones refused, authentication enforced). Settings beyond the defaults: tests/server/schemathesis.toml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import start_server, stop_server

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Most cases per operation, and the fewest generated in all that the run must reach (operations without
#: parameters have few distinct cases; the two scoring routes take the most).
EXAMPLES = {"open": 150, "with-key": 30}
LEAST_CASES = {"open": 150, "with-key": 60}


def fuzz(url: str, examples: int, seed: int, headers: list[str], workdir: Path) -> tuple[int, str]:
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run",
               f"{url}/openapi.json", "--checks", "all", "--max-examples", str(examples), "--seed", str(seed),
               "--generation-database", "none", "--no-color", "--workers", "1", *headers]
    # Run where its files (.schemathesis/) land outside the repository.
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=workdir)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["open", "with-key"])
def test_the_api_holds_to_its_schema_under_generated_requests(tiny_bundle: Path, tmp_path: Path, mode: str) -> None:
    env = {"HUMANORAI_API_KEY": "s3cret"} if mode == "with-key" else {}
    server = start_server(tiny_bundle, tmp_path / "server.log", env)
    try:
        headers = ["--header", "X-API-Key: s3cret"] if mode == "with-key" else []
        status, output = fuzz(server.url, EXAMPLES[mode], seed=1, headers=headers, workdir=tmp_path)
    finally:
        stop_server(server)
    assert status == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None, output[-3000:]
    assert generated.group(1) == generated.group(2)
    assert int(generated.group(1)) >= LEAST_CASES[mode]
    assert "Tested: 7" in output  # every operation of the schema
    assert "Traceback" not in (tmp_path / "server.log").read_text()
