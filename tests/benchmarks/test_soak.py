"""The soak benchmark runs end to end for a few seconds on the tiny bundle: hostile requests get 4xx, the
server never answers 5xx, and the report holds the numbers it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_short_soak_reports_no_server_errors(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.soak", "--bundle", str(tiny_bundle), "--seconds", "10",
                             "--clients", "4", "--corpus", str(tmp_path / "absent.csv"), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["server_errors"] == 0, report["statuses"]
    assert report["ordinary_answers"] > 20 and report["server_exit_status"] == 0
    hostile = report["hostile"]
    assert hostile, "no hostile request was sent"
    # Every hostile request is refused, but the heavy text may be scored before its client gives up.
    refusals = {name.rsplit(": ", 1)[1] for name in hostile if not name.startswith("heavy")}
    assert refusals <= {"400", "401", "404", "405", "408", "413", "422", "431", "closed"}, hostile
    assert report["rss_start_mib"] > 0 and "rss_growth_percent" in report
