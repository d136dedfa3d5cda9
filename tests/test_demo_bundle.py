"""The built-in demo bundle (models/demo): small, verified, credited, and what serve/predict use by default."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from humanorai.bundle import load_bundle
from humanorai.scoring.engine import Engine
from humanorai.scoring.ensemble import EnsemblePolicy
from humanorai.settings import DEMO_BUNDLE
from tests.conftest import run_cli
from tests.server.conftest import start_server, stop_server

pytestmark = pytest.mark.slow
LIMIT_BYTES = 40 * 1024 * 1024
ESSAY = ("When I moved to the coast I expected the sea to feel like a holiday every day. It did not. The fog sat "
         "on the harbour for most of June, the ferry timetable changed twice, and my neighbour's dog barked at "
         "every gull. Still, by August I had learned which bakery kept a loaf back for late customers and "
         "which path along the cliffs stayed dry after rain, and the place began to feel like mine.")


def test_the_demo_bundle_verifies_fits_the_size_limit_and_credits_its_data() -> None:
    manifest = load_bundle(DEMO_BUNDLE)  # checks the schema and every sha256
    size = sum(path.stat().st_size for path in DEMO_BUNDLE.rglob("*") if path.is_file())
    assert size <= LIMIT_BYTES
    assert [entry.name for entry in manifest.members] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    credit = manifest.training["data_credit"]
    assert all(part in credit for part in ("CC BY 3.0", "arXiv:2408.04237", "BiScope", "CC BY-SA 4.0"))
    assert manifest.command.startswith("humanorai train ../shared/data/train_corpus.csv "
                                       "../shared/data/extra_corpus.csv --out models/demo")
    assert [Path(entry["path"]).name for entry in manifest.training["data"]] == ["train_corpus.csv",
                                                                                 "extra_corpus.csv"]
    assert EnsemblePolicy.from_manifest(manifest.ensemble).operating_points == ("balanced", "fpr5", "fpr1")
    report = json.loads((DEMO_BUNDLE / "report" / "report.json").read_text())
    assert report["context"]["bundle"] == manifest.bundle_id
    assert manifest.ensemble["method"] in report["ensembles"]


def test_the_demo_bundle_serves_every_member() -> None:
    engine = Engine.load(DEMO_BUNDLE)
    assert engine.unavailable == {}
    prediction = engine.predict([ESSAY])[0]
    assert prediction.verdict.total_models == 5
    engine.close()


def test_predict_uses_the_demo_bundle_by_default() -> None:
    result = run_cli("predict", ESSAY, "--json")
    assert result.returncode == 0, result.stderr
    assert "built-in demo bundle" in result.stderr
    assert json.loads(result.stdout)["bundle"] == load_bundle(DEMO_BUNDLE).bundle_id


def test_serve_uses_the_demo_bundle_by_default(tmp_path: Path) -> None:
    server = start_server(None, tmp_path / "server.log")
    try:
        ready = httpx.get(f"{server.url}/ready", timeout=10).json()
        assert ready["bundle"] == load_bundle(DEMO_BUNDLE).bundle_id and ready["unavailable"] == {}
    finally:
        stop_server(server)
