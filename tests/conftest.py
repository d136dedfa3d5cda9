"""Session fixtures: one tiny real bundle (real H2O JVM, real MOJOs), trained once from synthetic text, and an
engine on it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from humanorai.settings import EngineSettings
from tests.synthetic import make_rows, write_csv

if TYPE_CHECKING:
    from humanorai.scoring.engine import Engine

#: The bundle folder, the finished ``humanorai train`` process, and the H2O JVMs running before it started.
TrainRun = tuple[Path, subprocess.CompletedProcess[str], set[int]]

#: The repository's root, and the shared corpus that tests marked ``corpus`` read (a fresh clone has no
#: ``../shared``: those tests are skipped).
ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = ROOT.parent / "shared" / "data" / "train_corpus.csv"

#: Small but real training settings: seconds, not minutes.
#: DRF and GBM read half the TF-IDF columns (``--tree-features``), so that every test on the tiny bundle
#: scores trees that see fewer columns than GLM.
TINY_TRAIN_ARGS = ["--max-features", "300", "--tree-features", "150", "--ntrees", "20", "--group-by", "source",
                   "--group-pattern", "^syn/([^/]+)/", "--preset", "tiny", "--max-length", "128", "--epochs", "3"]
#: The session bundle also holds the opt-in OpenVINO INT8 models (a few seconds on 64 calibration texts),
#: so that their export, manifest entries and serving are tested without training another bundle.
SESSION_BUNDLE_ARGS = [*TINY_TRAIN_ARGS, "--openvino-int8", "--int8-calibration-texts", "64"]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """On a crash in native code, print only the crashing thread's Python stack, to the stream pytest's
    faulthandler chose: with every thread's stack, the excerpt of a CI log that reached us cut off the one
    that crashed (a segmentation fault in tests/scoring/test_engine.py, 2026-12-07)."""
    import faulthandler

    from _pytest.faulthandler import fault_handler_stderr_fd_key  # pytest's own stream; none if disabled

    if faulthandler.is_enabled() and fault_handler_stderr_fd_key in config.stash:
        faulthandler.enable(file=config.stash[fault_handler_stderr_fd_key], all_threads=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("corpus") and not SHARED_CORPUS.is_file():
        pytest.skip(f"needs the shared corpus {SHARED_CORPUS}")


def humanorai_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "humanorai", *args]


def run_cli(*args: str, input_text: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUMANORAI_BUNDLE": ""}
    return subprocess.run(humanorai_command(*args), input=input_text, capture_output=True, text=True,
                          timeout=timeout, env=env)


def h2o_jvm_pids() -> set[int]:
    """PIDs of running H2O server JVMs (the training cluster), read from /proc."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"h2o.jar") for part in command) and b"-jar" in command:
            pids.add(int(entry.name))
    return pids


@pytest.fixture(scope="session")
def corpus_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "corpus.csv", make_rows(480))


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path) -> TrainRun:
    """Run ``humanorai train`` as a user would; keep its output and the JVMs alive before it."""
    jvms_before = h2o_jvm_pids()
    bundle = tmp_path_factory.mktemp("bundles") / "tiny"
    result = run_cli("train", str(corpus_csv), "--out", str(bundle), *SESSION_BUNDLE_ARGS)
    assert result.returncode == 0, result.stderr
    return bundle, result, jvms_before


@pytest.fixture(scope="session")
def tiny_bundle(trained_bundle: TrainRun) -> Path:
    return trained_bundle[0]


@pytest.fixture(scope="session")
def tiny_engine(tiny_bundle: Path) -> Iterator[Engine]:
    """An engine on the tiny bundle without a cache of votes (every text is computed), for in-process tests."""
    from humanorai.scoring.engine import Engine  # numpy and the member families: only for tests that score

    engine = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=0))
    yield engine
    engine.close()
