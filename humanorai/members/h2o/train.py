"""Train H2O DRF, GBM and GLM on TF-IDF features and export their MOJOs into a bundle.

Frames are uploaded as sparse matrices (svmlight under the hood), which is several times faster than a
dense pandas frame of 5000 columns. The naive H2OFrame scoring path (:func:`predict_via_h2oframe`) lives
here only as the reference for parity tests and the benchmark; serving uses the MOJOs.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from h2o.estimators import (  # noqa: I001  (imported after humanorai sets DO_NOT_TRACK)
    H2OEstimator,
    H2OGeneralizedLinearEstimator,
    H2OGradientBoostingEstimator,
    H2ORandomForestEstimator,
)

from humanorai.bundle import MemberEntry, checksums
from humanorai.members.base import FamilyBuild, TrainingJob
from humanorai.members.h2o.cluster import h2o, h2o_cluster
from humanorai.members.h2o.family import H2O_DIR
from humanorai.members.h2o.features import FeatureSet
from humanorai.progress import note, stage
from humanorai.settings import H2OSettings

LABEL_COLUMN = "label"
GENMODEL_JAR = "h2o-genmodel.jar"


def train_h2o_family(job: TrainingJob, kind: str) -> FamilyBuild:
    """Fit the TF-IDF on the training split, then train and export each asked-for H2O member."""
    split, staging, settings = job.split, job.staging, job.settings
    if settings.h2o.sample_per_group is not None:
        training = split.training_texts(settings.h2o.sample_per_group, settings.seed)
        note(f"the H2O members train on {len(training)} texts of the training split's groups: at most "
             f"{settings.h2o.sample_per_group} per group ({len(split.train)} in the sampled training split)")
        split = replace(split, train=training)
    with stage(f"Fitting TF-IDF ({settings.tfidf.features} features) on the training split"):
        features = FeatureSet.fit(split.train.texts, settings.tfidf)
        shared = features.save(staging)
        matrices = {part: features.transform(getattr(split, part).texts) for part in ("train", "valid")}
        note(features.describe())
    names = features.feature_names()
    tree_names = names if settings.h2o.tree_features is None else [
        names[position] for position in features.most_common_columns(settings.h2o.tree_features)]
    entries: list[MemberEntry] = []
    with contextlib.ExitStack() as cluster:
        cluster.callback(note, "H2O cluster released")
        url = settings.h2o_url
        with stage("Starting H2O" if url is None else f"Connecting to H2O at {url}"):
            cluster.enter_context(h2o_cluster(url))
        with stage("Uploading TF-IDF frames to H2O"):
            train_frame = upload_frame(matrices["train"], names, split.train.labels)
            valid_frame = upload_frame(matrices["valid"], names, split.valid.labels)
        for name in job.members:
            with stage(f"Training {name}"):
                model = train_member(name, train_frame, valid_frame, names if name == "GLM" else tree_names,
                                     settings.h2o)
                mojo = staging / H2O_DIR / f"{name}.zip"
                written = export_mojo(model, mojo, with_genmodel_jar=not entries)
                shared += [path for path in written if path.name == GENMODEL_JAR]
                entries.append(MemberEntry(
                    name=name, kind=kind, files=checksums(staging, [mojo]), threshold=0.5,
                    metrics={"h2o_max_f1_threshold": round(max_f1_threshold(model, valid_frame), 6)},
                    options={"mojo": f"{H2O_DIR}/{name}.zip", "genmodel_jar": f"{H2O_DIR}/{GENMODEL_JAR}"},
                ))
    return FamilyBuild(entries=entries, shared_files=checksums(staging, shared),
                       preprocessing=features.preprocessing(),
                       training={"h2o": {**vars(settings.h2o), "training_texts": len(split.train)}})


def _estimators(settings: H2OSettings) -> dict[str, Callable[[], H2OEstimator]]:
    early_stopping = {
        "stopping_rounds": settings.stopping_rounds,
        "stopping_metric": "logloss",
        "stopping_tolerance": settings.stopping_tolerance,
        "score_tree_interval": 10,
        "seed": settings.seed,
    }
    glm_strength: dict[str, Any] = (
        {"lambda_search": True, "nlambdas": 20, "early_stopping": True} if settings.glm_lambda is None
        else {"lambda_": settings.glm_lambda, "lambda_search": False})
    return {
        "DRF": lambda: H2ORandomForestEstimator(ntrees=settings.ntrees, **early_stopping),
        "GBM": lambda: H2OGradientBoostingEstimator(
            ntrees=settings.ntrees, max_depth=settings.max_depth_gbm, learn_rate=settings.learn_rate,
            col_sample_rate=0.5, sample_rate=0.8, **early_stopping,
        ),
        "GLM": lambda: H2OGeneralizedLinearEstimator(
            family="binomial", solver="L_BFGS", alpha=0.0, standardize=settings.glm_standardize,
            **glm_strength, seed=settings.seed,
        ),
    }


def upload_frame(matrix: sp.csr_matrix, feature_names: list[str], labels: np.ndarray | None = None) -> h2o.H2OFrame:
    """Upload a sparse feature matrix (and labels as a factor column) as an H2OFrame.

    The svmlight upload puts column 0 in the label slot and sizes the frame by the largest index present,
    so a constant sentinel column is appended to pin the width and dropped after parsing.
    """
    rows = matrix.shape[0]
    label_column = sp.csr_matrix((labels if labels is not None else np.zeros(rows)).reshape(-1, 1).astype(float))
    sentinel = sp.csr_matrix(np.ones((rows, 1)))
    frame = h2o.H2OFrame(sp.hstack([label_column, matrix, sentinel], format="csr"))
    frame.set_names([LABEL_COLUMN, *feature_names, "sentinel"])
    if labels is None:
        return frame[:, 1:-1]
    frame = frame[:, :-1]
    frame[LABEL_COLUMN] = frame[LABEL_COLUMN].asfactor()
    return frame


def train_member(name: str, train: h2o.H2OFrame, valid: h2o.H2OFrame, feature_names: list[str],
                 settings: H2OSettings) -> H2OEstimator:
    model = _estimators(settings)[name]()
    model.train(x=feature_names, y=LABEL_COLUMN, training_frame=train, validation_frame=valid)
    return model


def max_f1_threshold(model: H2OEstimator, valid: h2o.H2OFrame) -> float:
    """The threshold H2O's own ``predict`` label uses; recorded for reference, not used to vote."""
    return float(model.model_performance(valid).find_threshold_by_max_metric("f1"))


def export_mojo(model: H2OEstimator, target: Path, with_genmodel_jar: bool) -> list[Path]:
    """Write ``model``'s MOJO to ``target`` (and ``h2o-genmodel.jar`` beside it when asked)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = [target]
    with tempfile.TemporaryDirectory(prefix="humanorai-mojo-") as scratch:
        downloaded = model.download_mojo(scratch, get_genmodel_jar=with_genmodel_jar, genmodel_name=GENMODEL_JAR)
        shutil.move(downloaded, target)
        if with_genmodel_jar:
            jar = target.parent / GENMODEL_JAR
            shutil.move(str(Path(scratch) / GENMODEL_JAR), jar)
            written.append(jar)
    return written


def predict_via_h2oframe(model: H2OEstimator, frame: h2o.H2OFrame) -> np.ndarray:
    """``p_human`` from H2O's own ``predict`` on an H2OFrame: the reference the MOJO path must match."""
    predictions = model.predict(frame)
    human_column = next(name for name in predictions.names if name in ("p1", "p1.0"))
    values = predictions[human_column].as_data_frame(use_pandas=False, header=False)
    h2o.remove(predictions)
    return np.array([float(row[0]) for row in values], dtype=np.float64)
