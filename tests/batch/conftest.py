"""One engine on the tiny bundle for the batch tests that score (no cache of votes: every text is computed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from humanorai.scoring.engine import Engine
from humanorai.settings import EngineSettings


@pytest.fixture(scope="session")
def tiny_engine(tiny_bundle: Path) -> Iterator[Engine]:
    engine = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=0))
    yield engine
    engine.close()
