"""The contract every member family keeps, checked for each family in the registry: it trains on tiny data,
its files verify, its members load, score a batch as they score one text at a time, are refused by name
when a file is tampered with, and describe themselves. A new family is covered by adding it to the
registry."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from humanorai.bundle import load_bundle, write_manifest
from humanorai.corpus import Corpus, split_corpus
from humanorai.members.base import BundleContext, Family, TextBatch, TrainingJob
from humanorai.members.registry import FAMILIES
from humanorai.scoring.engine import Engine
from humanorai.settings import (
    DataSource,
    FineTuneSettings,
    H2OSettings,
    TfidfSettings,
    TrainSettings,
    TransformerTrainSettings,
)
from humanorai.training.pipeline import trained_manifest
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
ROWS = make_rows(300, seed=3)
TEXTS = [row["text"] for row in make_rows(24, seed=303)]
#: Batch scoring against one text at a time: exact for row-wise scorers; an INT8 ONNX model quantises its
#: activations per batch, so padding moves its scale a little.
BATCH_TOLERANCE = 0.02


@pytest.fixture(scope="module", params=FAMILIES, ids=[family.kind for family in FAMILIES])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Family, Path]:
    """The family's members trained on tiny data into a bundle folder with its manifest."""
    family: Family = request.param
    corpus = Corpus(texts=[row["text"] for row in ROWS], labels=np.array([int(row["label"]) for row in ROWS]),
                    groups=np.array([row["source"].split("/")[1] for row in ROWS]))
    split = split_corpus(corpus)
    folder = tmp_path_factory.mktemp(family.kind)
    settings = TrainSettings(data=(DataSource(Path("synthetic.csv")),), out=folder, members=family.members,
                             tfidf=TfidfSettings(features="word+char", max_features=300), h2o=H2OSettings(ntrees=10),
                             transformers=TransformerTrainSettings(
                                 preset="tiny", fine_tune=FineTuneSettings(epochs=4, max_length=64)))
    build = family.train(TrainingJob(family.members, split, folder, settings))
    assert [entry.name for entry in build.entries] == list(family.members)
    assert {entry.kind for entry in build.entries} == {family.kind}
    manifest = trained_manifest([build], settings, split, files=[])
    write_manifest(folder, dataclasses.replace(manifest, bundle_id=family.kind))
    return family, folder


def test_its_files_verify_and_it_describes_itself(trained: tuple[Family, Path]) -> None:
    family, folder = trained
    manifest = load_bundle(folder)  # every listed file exists and matches its sha256
    assert all(entry.files for entry in manifest.members)
    assert set(family.shared_files(manifest)) <= set(manifest.shared_files)
    description = family.describe()
    assert all(name in description for name in family.members)


def test_its_members_load_and_score_a_batch_as_one_text_at_a_time(trained: tuple[Family, Path]) -> None:
    family, folder = trained
    manifest = load_bundle(folder)
    context = BundleContext(folder, manifest)
    members = [family.load(context, entry) for entry in manifest.members]
    assert [member.name for member in members] == list(family.members)
    assert all(member.description for member in members)
    groups = family.groups(members, context)
    assert sorted(member.name for group in groups for member in group.members) == sorted(family.members)

    def score(texts: list[str]) -> dict[str, np.ndarray]:
        batch = TextBatch(texts)
        for group in groups:
            if group.prepare is not None:
                group.prepare[1](batch)
        return {member.name: member.predict_proba(batch) for group in groups for member in group.members}

    together = score(TEXTS)
    alone = [score([text]) for text in TEXTS]
    for name, p_human in together.items():
        assert p_human.shape == (len(TEXTS),) and np.all((p_human >= 0) & (p_human <= 1))
        assert np.std(p_human) > 0.01, f"{name} answers a constant"
        one_by_one = np.array([scores[name][0] for scores in alone])
        assert np.max(np.abs(p_human - one_by_one)) <= BATCH_TOLERANCE


def test_a_tampered_file_is_refused_by_name(trained: tuple[Family, Path], tmp_path: Path) -> None:
    family, folder = trained
    copy = tmp_path / "bundle"
    shutil.copytree(folder, copy)
    victim = load_bundle(copy).members[0]
    path = sorted(victim.files)[0]
    content = bytearray((copy / path).read_bytes())
    content[len(content) // 2] ^= 0x01
    (copy / path).write_bytes(bytes(content))
    engine = Engine.load(copy)
    try:
        assert list(engine.unavailable) == [victim.name]
        assert engine.unavailable[victim.name].startswith(f"{path}: sha256 mismatch")
        assert [member.name for member in engine.members] == list(family.members[1:])
    finally:
        engine.close()
