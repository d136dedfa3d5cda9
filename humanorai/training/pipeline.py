"""``humanorai train``: from a labelled file to a verified bundle folder.

Each member family trains its asked-for members into a staging folder beside the target. The staged
members are then loaded once through the serving engine, which scores the validation and test splits;
calibration, the stacker and the operating points are fitted on the validation scores (or, with
``--calibration group-kfold``, also on out-of-fold scores of the members cheap to retrain; see
:mod:`humanorai.training.calibration_data`), and the test split is evaluated with the same functions that
serve (so the manifest's numbers are those of the serving path). The manifest is built
once from what the families returned and what was fitted, written once, verified once, and the staging
folder renamed into place: a failed or interrupted run never leaves a half-written bundle behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from humanorai.bundle import Manifest, load_bundle, write_manifest
from humanorai.corpus import Corpus, Split, capped, load_sources, split_corpus, within_groups
from humanorai.errors import TrainingError
from humanorai.evaluation.evaluate import ScoredCorpus, combine_scores, evaluation_report, member_scores
from humanorai.evaluation.report import write_report
from humanorai.members.base import FamilyBuild, TrainingJob
from humanorai.members.registry import FAMILIES, all_members
from humanorai.progress import note, stage
from humanorai.scoring.engine import Engine
from humanorai.scoring.ensemble import MAJORITY, STACKED, Calibration, EnsemblePolicy, calibrated
from humanorai.settings import TrainSettings
from humanorai.training.calibration_data import CalibrationData, pooled_data, validation_data
from humanorai.training.out_of_fold import out_of_fold_scores
from humanorai.training.stacking import fit_calibration, fit_operating_points, fit_stacker, fit_two_stage_stacker

REPORT_DIR = "report"
#: Fewer texts than this in a split gets a warning: its fitted numbers or metrics are mostly noise.
MIN_SPLIT_TEXTS = 50


@dataclass(frozen=True)
class Fitted:
    """What is learnt on top of the members from their held-out scores: calibrations, the stacker and the
    operating points."""

    calibrations: dict[str, Calibration]
    ensemble: dict[str, Any]


def train_bundle(settings: TrainSettings) -> Manifest:
    """Run every training stage and return the manifest of the bundle written to ``settings.out``."""
    _check_target(settings.out, settings.overwrite)
    corpus, files = read_data(settings)
    if settings.calibration == "validation":
        return train_on(sampled(corpus, settings), files, settings, pool=corpus)
    with family_sessions(settings) as shared:  # the members are trained once per fold, then once more
        return train_on(sampled(corpus, settings), files, shared, pool=corpus)


@contextlib.contextmanager
def family_sessions(settings: TrainSettings) -> Iterator[TrainSettings]:
    """Every family's session (e.g. one H2O cluster) for several trainings in a row; yields the settings
    that use them."""
    with contextlib.ExitStack() as sessions:
        for family in FAMILIES:
            settings = sessions.enter_context(family.session(settings))
        yield settings


def read_data(settings: TrainSettings) -> tuple[Corpus, list[dict[str, object]]]:
    """The data files as one clean corpus, and what each contributed (see :func:`load_sources`)."""
    with stage(f"Reading {', '.join(str(source.path) for source in settings.data)}"):
        corpus, files = load_sources(settings.data)
        for file in files:
            note(f"{file['path']}: {file['kept']} of {file['rows']} rows kept ({file['human']} HUMAN, {file['ai']} AI)")
        note(f"{len(corpus)} texts kept; dropped {corpus.dropped_empty} empty or missing and "
             f"{corpus.dropped_duplicates} duplicate texts")
    return corpus, files


def sampled(corpus: Corpus, settings: TrainSettings) -> Corpus:
    """``corpus`` cut to ``--sample-per-group`` texts per group (all of it without the option)."""
    if settings.sample_per_group is None:
        return corpus
    cut = capped(corpus, settings.sample_per_group, settings.seed)
    note(f"{len(cut)} texts sampled: at most {settings.sample_per_group} per group")
    return cut


def train_on(corpus: Corpus, files: list[dict[str, object]], settings: TrainSettings,
             pool: Corpus | None = None) -> Manifest:
    """Split ``corpus``, train every asked-for member and write the bundle to ``settings.out``. ``pool``
    (``corpus`` before its sample, or more texts of its groups) gives ``--h2o-sample-per-group``,
    ``--bert-sample-per-group`` and ``--roberta-sample-per-group`` their texts."""
    members = settings.members or all_members()
    with stage("Splitting train/valid/test"):
        split = split_corpus(corpus, settings.valid_fraction, settings.test_fraction, settings.seed)
        wanted = [settings.h2o.sample_per_group, *settings.transformers.sample_per_group.values()]
        if pool is not None and any(most is not None for most in wanted):
            split = replace(split, train_pool=within_groups(pool, split.train))
        note(", ".join(f"{part}: {len(getattr(split, part))}" for part in ("train", "valid", "test")))
        for part in ("train", "valid", "test"):
            if len(getattr(split, part)) < MIN_SPLIT_TEXTS:
                note(f"[yellow]warning:[/yellow] only {len(getattr(split, part))} texts in the {part} split; "
                     f"its models, calibration or numbers rest on too little data (at least {MIN_SPLIT_TEXTS} "
                     "advised)")
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{settings.out.name}.staging-", dir=settings.out.parent))
    try:
        manifest = _build(replace(settings, members=members), split, files, staging)
        if settings.out.exists():
            shutil.rmtree(settings.out)
        staging.rename(settings.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    note(f"bundle {manifest.bundle_id} written to {settings.out}")
    return manifest


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TrainingError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise TrainingError(f"{out}: folder is not empty; pass --overwrite to replace it")


def _build(settings: TrainSettings, split: Split, files: list[dict[str, object]], staging: Path) -> Manifest:
    trained = _train_members(settings, settings.members, split, files, staging)
    valid_scores, test_scores = _score_as_served(staging, trained, [("validation", split.valid),
                                                                    ("test", split.test)])
    fit_data = _calibration_data(settings, split, files, valid_scores, staging.parent)
    fitted = fit_ensemble({entry.name: entry.threshold for entry in trained.members}, fit_data, settings.calibrate)
    test = calibrated(test_scores, fitted.calibrations)
    scored, report = _evaluate(trained, fitted, split.test, test)
    chosen: str = report["best_method"] if settings.ensemble == "best" else settings.ensemble
    methods = {name: result["metrics"] for name, result in report["ensembles"].items()}
    manifest = replace(
        trained,
        training={**trained.training, "calibration": fit_data.record},
        members=[replace(entry, calibration=_calibration_of(fitted, entry.name),
                         metrics={**entry.metrics, **report["members"][entry.name]["metrics"]})
                 for entry in trained.members],
        ensemble={**fitted.ensemble, "method": chosen, "test_metrics": methods[chosen], "methods": methods,
                  "best_on_test": report["best_method"]},
    )
    note(f"best method on the test split: {report['best_method']}; the bundle's default: {chosen}")
    manifest = replace(manifest, bundle_id=_bundle_id(manifest))
    data = ", ".join(str(source.path) for source in settings.data)
    context = {"bundle": manifest.bundle_id, "data": f"{data} (test split)", "command": settings.command,
               "created": manifest.created}
    write_report(report, scored, staging / REPORT_DIR, context)
    write_manifest(staging, manifest)
    load_bundle(staging)
    return manifest


def _train_members(settings: TrainSettings, members: tuple[str, ...], split: Split, files: list[dict[str, object]],
                   staging: Path) -> Manifest:
    """Train ``members`` into ``staging``; the manifest of what was trained, before anything is fitted on
    their scores."""
    builds = []
    for family in FAMILIES:
        asked = tuple(name for name in family.members if name in members)
        if asked:
            builds.append(family.train(TrainingJob(asked, split, staging, settings)))
    return trained_manifest(builds, settings, split, files)


def trained_manifest(builds: list[FamilyBuild], settings: TrainSettings, split: Split,
                     files: list[dict[str, object]]) -> Manifest:
    """The manifest of the trained members, before anything is fitted on their scores; ``files`` says what
    each data file contributed (path, sha256, counts)."""
    training: dict[str, Any] = {"data": files, "data_credit": settings.data_credit,
                                "sample_per_group": settings.sample_per_group,
                                "h2o_sample_per_group": settings.h2o.sample_per_group,
                                "rows": len(split.train) + len(split.valid) + len(split.test),
                                "split": split.summary}
    for build in builds:
        training.update(build.training)
    training.update(calibrated=settings.calibrate, serving_only=settings.serving_only, report=f"{REPORT_DIR}/")
    return Manifest(
        bundle_id="",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        preprocessing={key: value for build in builds for key, value in build.preprocessing.items()},
        members=[entry for build in builds for entry in build.entries],
        shared_files={path: digest for build in builds for path, digest in build.shared_files.items()},
        ensemble={"method": MAJORITY},
        training=training,
        command=settings.command,
    )


def train_and_score(settings: TrainSettings, members: tuple[str, ...], split: Split, files: list[dict[str, object]],
                    scratch: Path) -> dict[str, np.ndarray]:
    """Train ``members`` on ``split`` (early stopping on its validation texts) in a throwaway folder under
    ``scratch`` and return their raw ``p_human`` for its test texts, as served: one fold of out-of-fold
    scores."""
    with tempfile.TemporaryDirectory(prefix=".out-of-fold-", dir=scratch) as staging:
        manifest = _train_members(settings, members, split, files, Path(staging))
        return _score_as_served(Path(staging), manifest, [("held-out fold", split.test)])[0]


def _score_as_served(staging: Path, manifest: Manifest,
                     parts: list[tuple[str, Corpus]]) -> list[dict[str, np.ndarray]]:
    """The members' raw ``p_human`` on each named corpus, through the serving engine on the staged files;
    every member must load."""
    with stage(f"Scoring the {' and '.join(name for name, _ in parts)} texts through the serving engine"):
        engine = Engine.load(staging, manifest=manifest)
        try:
            if engine.unavailable:
                raise TrainingError(f"trained members failed to load: {engine.unavailable}")
            return [member_scores(engine, corpus, f"Scoring the {name} texts ({len(corpus)})")
                    for name, corpus in parts]
        finally:
            engine.close()


def _calibration_data(settings: TrainSettings, split: Split, files: list[dict[str, object]],
                      valid_scores: dict[str, np.ndarray], scratch: Path) -> CalibrationData:
    """The scores the ensemble's numbers are fitted on, as ``settings.calibration`` asks."""
    refit = tuple(name for name in settings.members if name in settings.refit_members)
    # Out-of-fold scores feed the retrained members' calibrations, and the stacker and operating points only
    # when every member has them: without either, they would change nothing and cost K trainings.
    if settings.calibration == "validation" or not refit or not (settings.calibrate or refit == settings.members):
        if settings.calibration != "validation":
            note(f"out-of-fold scores would change nothing here (no member among {', '.join(settings.refit_members)}"
                 ", or no --calibrate and members that are not retrained): fitting on the validation split")
        return validation_data(split.valid, valid_scores)
    def score_fold(training: Corpus, held_out: Corpus) -> dict[str, np.ndarray]:
        pool = None if split.train_pool is None else within_groups(split.train_pool, training)
        fold = Split(train=training, valid=split.valid, test=held_out, train_pool=pool)
        return train_and_score(settings, refit, fold, files, scratch)

    with stage(f"Out-of-fold scores of {', '.join(refit)}: up to {settings.calibration_folds} folds of the "
               "training split's groups"):
        oof = out_of_fold_scores(split.train, settings.calibration_folds, settings.seed, score_fold)
    return pooled_data(split.train, oof, split.valid, valid_scores)


def fit_ensemble(thresholds: dict[str, float], data: CalibrationData, calibrate: bool) -> Fitted:
    """Fit the optional calibrations of the members (``thresholds``: each member's vote threshold), each on
    its own rows, then the stacker and the operating points on the rows where every member has an honest
    score (the stacker's first stage, where there is one, on the rows of the members retrained per fold)."""
    what = "calibration, the stacked ensemble" if calibrate else "the stacked ensemble"
    calibrations: dict[str, Calibration] = {}
    ensemble: dict[str, Any] = {}
    with stage(f"Fitting {what} and the operating points on {data.record['fitted_on']} scores "
               f"({len(data.corpus)} texts)"):
        if calibrate:
            for name in thresholds:
                p_member, labels = data.by_member[name]
                calibration = calibrations[name] = fit_calibration(p_member, labels)
                note(f"{name}: calibrated p = sigmoid({calibration.slope:.3f} · logit(p) "
                     f"{calibration.intercept:+.3f}), fitted on {len(labels)} texts")
        p_human = calibrated(data.p_human, calibrations)
        if len(p_human) < 2:
            note("one member: no stacked ensemble")
        else:
            if data.first_stage is None:
                stacker = fit_stacker(p_human, data.corpus.labels)
                ensemble["stacked_fitted"] = {"rule": "one-stage", "texts": len(data.corpus)}
            else:
                first_p_human, first_labels = data.first_stage
                stacker = fit_two_stage_stacker(calibrated(first_p_human, calibrations), first_labels, p_human,
                                                data.corpus.labels)
                ensemble["stacked_fitted"] = {"rule": "two-stage", "first_stage": list(first_p_human),
                                              "first_stage_texts": len(first_labels), "texts": len(data.corpus)}
                note(f"stacker: {', '.join(first_p_human)} weighed among themselves on {len(first_labels)} "
                     f"texts, their combination against the others on {len(data.corpus)}")
            ensemble[STACKED] = stacker.to_dict()
            note("stacker weights: " + ", ".join(
                f"{name} {weight:.3f}" for name, weight in zip(stacker.members, stacker.weights, strict=True)))
        scored = combine_scores(data.corpus, p_human, thresholds, EnsemblePolicy.from_manifest(ensemble))
        ensemble["operating_points"], ensemble["operating_points_fitted"] = fit_operating_points(
            {method: result.p_human for method, result in scored.methods.items()}, data.corpus.labels,
            data.corpus.groups)
        note(f"operating points ({_rule(ensemble['operating_points_fitted'])}; "
             "p_human below which a text is called AI): " + "; ".join(
            f"{method} " + ", ".join(f"{point} {value:.4f}" for point, value in points.items())
            for method, points in ensemble["operating_points"].items()))
    return Fitted(calibrations, ensemble)


def _rule(record: dict[str, Any]) -> str:
    """How the operating points were fitted, in a few words."""
    if record["rule"] == "quantile":
        return f"quantiles of {record['human_texts']} human texts"
    return (f"held in {record['confidence']:.0%} of {record['resamples']} resamples of {record['groups']} groups' "
            f"{record['human_texts']} human texts")


def _evaluate(manifest: Manifest, fitted: Fitted, test: Corpus,
              p_human: dict[str, np.ndarray]) -> tuple[ScoredCorpus, dict[str, Any]]:
    """The test split's report, every member and method as the finished bundle serves them."""
    with stage(f"Evaluating on the test split ({len(test)} texts)"):
        thresholds = {entry.name: entry.threshold for entry in manifest.members}
        scored = combine_scores(test, p_human, thresholds, EnsemblePolicy.from_manifest(fitted.ensemble))
        report = evaluation_report(scored)
        for name, entry in report["members"].items():
            note(f"{name}: AUC {entry['metrics']['roc_auc']:.4f}, F1 {entry['metrics']['f1']:.4f}")
        for name, entry in report["ensembles"].items():
            note(f"ensemble ({name}): accuracy {entry['metrics']['accuracy']:.4f}, "
                 f"AUC {entry['metrics']['roc_auc']:.4f}")
    return scored, report


def _calibration_of(fitted: Fitted, member: str) -> dict[str, float] | None:
    calibration = fitted.calibrations.get(member)
    return None if calibration is None else calibration.to_dict()


def _bundle_id(manifest: Manifest) -> str:
    digest = hashlib.sha256()
    for path, checksum in sorted(manifest.shared_files.items()):
        digest.update(f"{path}:{checksum}".encode())
    for entry in manifest.members:
        for path, checksum in sorted(entry.files.items()):
            digest.update(f"{path}:{checksum}".encode())
    stamp = manifest.created.replace("-", "").replace(":", "").replace("+0000", "Z")
    return f"humanorai-{stamp}-{digest.hexdigest()[:10]}"
