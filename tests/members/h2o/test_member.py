"""Parity: the in-process MOJO path must give H2O's own ``predict`` probabilities (within 1e-6).

Trains real DRF, GBM and GLM on a live H2O cluster, exports their MOJOs and scores the same held-out
texts both ways. The TF-IDF is fitted on more text than H2O trains on, so some of its columns are all zero
in training and dropped by H2O: the MOJO reads fewer columns than the TF-IDF has, and the name mapping
must still line every column up.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from humanorai.members.base import TextBatch
from humanorai.members.h2o.cluster import h2o_cluster
from humanorai.members.h2o.family import H2OFamily
from humanorai.members.h2o.features import CHAR_NORMALIZATION, FeatureSet, TfidfFeatures, TfidfParams
from humanorai.members.h2o.member import TFIDF_SHARED_KEY, MojoError, MojoMember
from humanorai.members.h2o.train import (
    GENMODEL_JAR,
    H2OSettings,
    export_mojo,
    predict_via_h2oframe,
    train_member,
    upload_frame,
)
from humanorai.text import TFIDF_DEFAULT
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TOLERANCE = 1e-6
ROWS = make_rows(420, seed=11)
TRAIN, VALID, HELD_OUT = ROWS[:240], ROWS[240:300], ROWS[300:]
EXTRA_VOCABULARY = ["Zebra quartz xylophone jubilant."] * 40  # frequent in the TF-IDF, absent from H2O data
#: GLM at one fixed L2 strength on unscaled TF-IDF (``train --glm-lambda 1e-3 --no-glm-standardize``).
FIXED_GLM = H2OSettings(glm_lambda=1e-3, glm_standardize=False)
FIXED_GLM_FILE = "GLM-fixed-lambda"


@pytest.fixture(scope="module")
def parity_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    texts = [row["text"] for row in TRAIN] + EXTRA_VOCABULARY
    tfidf = FeatureSet([  # both blocks, so the name mapping must line columns up across them
        TfidfFeatures.fit(texts, TfidfParams(normalization=TFIDF_DEFAULT, max_features=250, min_df=1)),
        TfidfFeatures.fit(texts, TfidfParams(normalization=CHAR_NORMALIZATION, max_features=150, min_df=1,
                                             ngram_range=(2, 4), block="char"))])
    names = tfidf.feature_names()
    folder = tmp_path_factory.mktemp("mojos")
    with h2o_cluster():
        def frame(rows: list[dict[str, str]], labelled: bool = True) -> object:
            labels = np.array([int(row["label"]) for row in rows]) if labelled else None
            return upload_frame(tfidf.transform([row["text"] for row in rows]), names, labels)

        train, valid, held_out = frame(TRAIN), frame(VALID), frame(HELD_OUT, labelled=False)
        reference: dict[str, np.ndarray] = {}
        for name in H2OFamily.members:
            model = train_member(name, train, valid, names, H2OSettings(ntrees=15))
            export_mojo(model, folder / f"{name}.zip", with_genmodel_jar=name == "DRF")
            reference[name] = predict_via_h2oframe(model, held_out)
        fixed = train_member("GLM", train, valid, names, FIXED_GLM)
        export_mojo(fixed, folder / f"{FIXED_GLM_FILE}.zip", with_genmodel_jar=False)
        reference[FIXED_GLM_FILE] = predict_via_h2oframe(fixed, held_out)
        yield {"tfidf": tfidf, "folder": folder, "reference": reference, "fixed_glm_params": fixed.actual_params}


@pytest.mark.parametrize("name", [*H2OFamily.members, FIXED_GLM_FILE])
def test_mojo_matches_h2o_predict(parity_setup: dict[str, object], name: str) -> None:
    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    tfidf: FeatureSet = parity_setup["tfidf"]  # type: ignore[assignment]
    member = MojoMember(name, folder / f"{name}.zip", folder / GENMODEL_JAR, tfidf)
    p_human = member.predict_proba(TextBatch([row["text"] for row in HELD_OUT]))
    expected = parity_setup["reference"][name]  # type: ignore[index]
    assert len(p_human) == len(expected) >= 100
    assert np.max(np.abs(p_human - expected)) <= TOLERANCE
    assert np.std(p_human) > 0.05  # real, spread-out probabilities, not a constant
    if not name.startswith("GLM"):  # GLM keeps constant columns as zero-weight coefficients
        assert len(member._columns) < tfidf.n_features
    assert "zebra" in tfidf.blocks[0].terms


def test_a_fixed_glm_strength_reaches_h2o_and_changes_the_model(parity_setup: dict[str, object]) -> None:
    """``--glm-lambda`` and ``--no-glm-standardize`` train one model at that strength, not a lambda search."""
    params = parity_setup["fixed_glm_params"]
    assert params["lambda"] == [FIXED_GLM.glm_lambda]  # type: ignore[index]
    assert params["lambda_search"] is False and params["standardize"] is False  # type: ignore[index]
    reference: dict[str, np.ndarray] = parity_setup["reference"]  # type: ignore[assignment]
    assert np.max(np.abs(reference[FIXED_GLM_FILE] - reference["GLM"])) > 0.01


def test_batch_scoring_equals_one_by_one(parity_setup: dict[str, object]) -> None:
    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    member = MojoMember("GBM", folder / "GBM.zip", folder / GENMODEL_JAR, parity_setup["tfidf"])  # type: ignore[arg-type]
    texts = [row["text"] for row in HELD_OUT[:20]]
    together = member.predict_proba(TextBatch(texts))
    alone = np.concatenate([member.predict_proba(TextBatch([text])) for text in texts])
    assert np.array_equal(together, alone)


def test_python_garbage_collections_do_not_call_into_java_and_scores_outlive_them(
        parity_setup: dict[str, object]) -> None:
    import _jpype

    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    member = MojoMember("DRF", folder / "DRF.zip", folder / GENMODEL_JAR, parity_setup["tfidf"])  # type: ignore[arg-type]
    assert _jpype._collect not in gc.callbacks
    batch = TextBatch([row["text"] for row in HELD_OUT[:40]])
    before = member.predict_proba(batch)
    for _ in range(100):  # Java arrays made and dropped from Python, and cyclic Python garbage, many times
        member.predict_proba(batch)
        cycles = [[] for _ in range(2000)]
        for cycle in cycles:
            cycle.append(cycle)
        del cycles
    gc.collect()
    assert np.array_equal(member.predict_proba(batch), before)


def test_tfidf_is_computed_once_per_batch_and_shared(parity_setup: dict[str, object]) -> None:
    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    tfidf: FeatureSet = parity_setup["tfidf"]  # type: ignore[assignment]
    members = [MojoMember(name, folder / f"{name}.zip", folder / GENMODEL_JAR, tfidf) for name in H2OFamily.members]
    calls = []
    batch = TextBatch([row["text"] for row in HELD_OUT[:5]])
    batch.shared(TFIDF_SHARED_KEY, lambda texts: calls.append(len(texts)) or tfidf.transform(texts))
    for member in members:
        member.predict_proba(batch)
    assert calls == [5]


def test_a_mojo_that_does_not_fit_the_tfidf_is_refused(parity_setup: dict[str, object]) -> None:
    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    other = FeatureSet([TfidfFeatures.fit(["just a few words here", "and a few more words"],
                                          TfidfParams(normalization=TFIDF_DEFAULT, max_features=5, min_df=1))])
    with pytest.raises(MojoError, match="reads columns the TF-IDF does not have"):
        MojoMember("DRF", folder / "DRF.zip", folder / GENMODEL_JAR, other)


def test_a_corrupt_mojo_is_refused(parity_setup: dict[str, object], tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    folder: Path = parity_setup["folder"]  # type: ignore[assignment]
    with pytest.raises(MojoError, match="broken.zip: not a loadable MOJO"):
        MojoMember("DRF", broken, folder / GENMODEL_JAR, parity_setup["tfidf"])  # type: ignore[arg-type]
