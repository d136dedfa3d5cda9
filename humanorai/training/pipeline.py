"""``humanorai train``: from a labelled file to a verified bundle folder.

The bundle is assembled in a staging folder beside the target and renamed into place only when every
stage succeeded, so a failed or interrupted run never leaves a half-written bundle behind. Test-split
metrics are computed by loading the staged bundle through the serving engine: the numbers in the
manifest are those of the path that will serve.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import scipy.sparse as sp

from humanorai.bundle import Manifest, MemberEntry, checksums, load_bundle, write_manifest
from humanorai.engine import Engine
from humanorai.ensemble import MAJORITY, METHODS, STACKED
from humanorai.errors import TrainingError
from humanorai.members import h2o_mojo, transformer
from humanorai.members.context import TFIDF_DIR
from humanorai.members.tfidf import TfidfFeatures, TfidfParams
from humanorai.progress import note, stage
from humanorai.text import RAW, TFIDF_DEFAULT, normalize
from humanorai.training.data import Corpus, Split, load_corpus, split_corpus
from humanorai.training.evaluate import ScoredCorpus, evaluation_report, score_corpus
from humanorai.training.export import export_onnx
from humanorai.training.h2o_cluster import h2o_cluster
from humanorai.training.h2o_models import (
    GENMODEL_JAR,
    H2O_MEMBERS,
    H2OSettings,
    export_mojo,
    max_f1_threshold,
    train_member,
    upload_frame,
)
from humanorai.training.report import write_report
from humanorai.training.stacking import fit_calibration, fit_stacker
from humanorai.training.transformers import (
    DISPLAY_NAMES,
    PRESETS,
    TRANSFORMER_MEMBERS,
    FineTuneSettings,
    build_from_preset,
    fine_tune,
    learning_schedule,
    load_base,
    save_hf,
)

H2O_DIR = "h2o"
REPORT_DIR = "report"
#: ``--ensemble best`` records the method that scored best on the test split as the bundle's default.
ENSEMBLE_CHOICES = (*METHODS, "best")


ALL_MEMBERS = (*H2O_MEMBERS, *TRANSFORMER_MEMBERS)


@dataclass(frozen=True)
class TransformerOptions:
    """Where the transformers start from and how they are fine-tuned."""

    preset: str = "small"
    bert_base: str | None = None
    roberta_base: str | None = None
    fine_tune: FineTuneSettings = field(default_factory=FineTuneSettings)

    def base(self, member: str) -> str | None:
        return self.bert_base if member == "BERT" else self.roberta_base


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    out: Path
    members: tuple[str, ...] = ALL_MEMBERS
    text_column: str = "text"
    label_column: str = "label"
    group_by: str | None = None
    group_pattern: str | None = None
    seed: int = 42
    valid_fraction: float = 0.15
    test_fraction: float = 0.15
    tfidf: TfidfParams = field(default_factory=lambda: TfidfParams(normalization=TFIDF_DEFAULT))
    h2o: H2OSettings = field(default_factory=H2OSettings)
    h2o_url: str | None = None
    transformers: TransformerOptions = field(default_factory=TransformerOptions)
    #: Fit a Platt calibration per member on the validation split (applied when serving).
    calibrate: bool = False
    #: The bundle's default ensemble method: one of ``ENSEMBLE_CHOICES``.
    ensemble: str = MAJORITY
    #: Keep only what serving needs: drop the transformers' safetensors and FP32 ONNX (INT8 ONNX stays).
    serving_only: bool = False
    #: Where the training data comes from and its licence, recorded in the manifest.
    data_credit: str | None = None
    overwrite: bool = False
    command: str = ""


def parse_members(value: str) -> tuple[str, ...]:
    """Parse ``--members`` (comma-separated, any case; ``all`` = all five)."""
    names = [name.strip().upper() for name in value.split(",") if name.strip()]
    if names == ["ALL"]:
        return ALL_MEMBERS
    unknown = [name for name in names if name not in ALL_MEMBERS]
    if unknown or not names:
        raise TrainingError(f"unknown member(s) {', '.join(unknown) or '(none)'}; choose from "
                            f"{', '.join(name.lower() for name in ALL_MEMBERS)} or all")
    return tuple(name for name in ALL_MEMBERS if name in names)


def train_bundle(options: TrainOptions) -> Manifest:
    """Run every training stage and return the manifest of the bundle written to ``options.out``."""
    _check_target(options.out, options.overwrite)
    _check_ensemble(options)
    with stage(f"Reading {options.data}"):
        corpus = load_corpus(options.data, options.text_column, options.label_column,
                             options.group_by, options.group_pattern)
        note(f"{len(corpus)} texts kept; dropped {corpus.dropped_empty} empty and "
             f"{corpus.dropped_duplicates} duplicate texts")
    with stage("Splitting train/valid/test"):
        split = split_corpus(corpus, options.valid_fraction, options.test_fraction, options.seed)
        note(", ".join(f"{part}: {len(getattr(split, part))}" for part in ("train", "valid", "test")))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.out.name}.staging-", dir=options.out.parent))
    try:
        manifest = _build(options, split, staging)
        if options.out.exists():
            shutil.rmtree(options.out)
        staging.rename(options.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    note(f"bundle {manifest.bundle_id} written to {options.out}")
    return manifest


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TrainingError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise TrainingError(f"{out}: folder is not empty; pass --overwrite to replace it")


def _check_ensemble(options: TrainOptions) -> None:
    if options.ensemble not in ENSEMBLE_CHOICES:
        raise TrainingError(f"unknown ensemble method {options.ensemble!r}; choose from {', '.join(ENSEMBLE_CHOICES)}")
    if options.ensemble == STACKED and len(options.members) < 2:
        raise TrainingError("the stacked ensemble needs at least two members")


def _build(options: TrainOptions, split: Split, staging: Path) -> Manifest:
    entries: list[MemberEntry] = []
    shared_files: list[Path] = []
    preprocessing: dict[str, object] = {}
    if any(name in H2O_MEMBERS for name in options.members):
        h2o_entries, h2o_shared = _build_classical(options, split, staging)
        entries += h2o_entries
        shared_files += h2o_shared
        preprocessing["tfidf"] = options.tfidf.to_dict()
    entries += [_train_transformer(name, options, split, staging)
                for name in TRANSFORMER_MEMBERS if name in options.members]
    manifest = Manifest(
        bundle_id="",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        preprocessing=preprocessing,
        members=entries,
        shared_files=checksums(staging, shared_files),
        ensemble={"method": MAJORITY},
        training={"data": str(options.data), "data_credit": options.data_credit,
                  "rows": len(split.train) + len(split.valid) + len(split.test),
                  "split": split.summary, "h2o": vars(options.h2o),
                  "transformers": {"preset": options.transformers.preset,
                                   **vars(options.transformers.fine_tune)},
                  "calibrated": options.calibrate, "serving_only": options.serving_only,
                  "report": f"{REPORT_DIR}/"},
        command=options.command,
    )
    manifest.bundle_id = _bundle_id(manifest)
    write_manifest(staging, manifest)
    _fit_ensemble(staging, manifest, split.valid, options.calibrate)
    write_manifest(staging, manifest)
    _evaluate_on_test(staging, manifest, split.test, options)
    write_manifest(staging, manifest)
    load_bundle(staging)
    return manifest


def _build_classical(options: TrainOptions, split: Split, staging: Path) -> tuple[list[MemberEntry], list[Path]]:
    with stage(f"Fitting TF-IDF ({options.tfidf.max_features} features, "
               f"{options.tfidf.ngram_range[0]}-{options.tfidf.ngram_range[1]}-grams) on the training split"):
        tfidf = TfidfFeatures.fit(split.train.texts, options.tfidf)
        tfidf_files = tfidf.save(staging / TFIDF_DIR)
        matrices = {part: tfidf.transform(getattr(split, part).texts) for part in ("train", "valid")}
        note(f"{tfidf.n_features} features")
    entries, jar_files = _train_h2o_members(options, split, tfidf, matrices, staging)
    return entries, tfidf_files + jar_files


def _train_transformer(member: str, options: TrainOptions, split: Split, staging: Path) -> MemberEntry:
    """Fine-tune one transformer, save it in HF format and export its ONNX files."""
    display = DISPLAY_NAMES[member]
    settings = options.transformers.fine_tune
    base = options.transformers.base(member)
    folder = staging / member.lower()
    with stage(f"Training {display} ({base or 'preset ' + options.transformers.preset})"):
        train_texts = [normalize(text, RAW) for text in split.train.texts]
        if base is None:
            preset = PRESETS[options.transformers.preset]
            model, tokenizer = build_from_preset(member, preset, train_texts, settings.max_length)
        else:
            preset = None
            model, tokenizer = load_base(base)
            tokenizer.model_max_length = min(tokenizer.model_max_length, settings.max_length)
        metrics = fine_tune(model, tokenizer, RAW, (split.train.texts, split.train.labels),
                            (split.valid.texts, split.valid.labels), settings, *learning_schedule(settings, preset))
        files = save_hf(model, tokenizer, folder)
    with stage(f"Exporting {display} to ONNX (fp32 with fused attention, int8)"):
        files += export_onnx(folder)
    if options.serving_only:
        for name in (transformer.WEIGHTS, transformer.ONNX_FP32):
            (folder / name).unlink()
        files = [path for path in files if path.is_file()]
    return MemberEntry(
        name=display, kind=transformer.KIND, files=checksums(staging, files), threshold=0.5, metrics=metrics,
        options={"folder": member.lower(), "max_length": settings.max_length, "normalization": RAW.to_dict(),
                 "base": base or f"preset:{options.transformers.preset}"},
    )


def _train_h2o_members(options: TrainOptions, split: Split, tfidf: TfidfFeatures,
                       matrices: dict[str, sp.csr_matrix], staging: Path) -> tuple[list[MemberEntry], list[Path]]:
    names = tfidf.feature_names()
    entries: list[MemberEntry] = []
    jar_files: list[Path] = []
    with contextlib.ExitStack() as cluster:
        cluster.callback(note, "H2O cluster released")
        with stage("Starting H2O" if options.h2o_url is None else f"Connecting to H2O at {options.h2o_url}"):
            cluster.enter_context(h2o_cluster(options.h2o_url))
        with stage("Uploading TF-IDF frames to H2O"):
            train_frame = upload_frame(matrices["train"], names, split.train.labels)
            valid_frame = upload_frame(matrices["valid"], names, split.valid.labels)
        for name in (member for member in options.members if member in H2O_MEMBERS):
            with stage(f"Training {name}"):
                model = train_member(name, train_frame, valid_frame, names, options.h2o)
                mojo = staging / H2O_DIR / f"{name}.zip"
                written = export_mojo(model, mojo, with_genmodel_jar=not jar_files)
                jar_files.extend(path for path in written if path.name == GENMODEL_JAR)
                entries.append(MemberEntry(
                    name=name, kind=h2o_mojo.KIND, files=checksums(staging, [mojo]), threshold=0.5,
                    metrics={"h2o_max_f1_threshold": round(max_f1_threshold(model, valid_frame), 6)},
                    options={"mojo": f"{H2O_DIR}/{name}.zip", "genmodel_jar": f"{H2O_DIR}/{GENMODEL_JAR}"},
                ))
    return entries, jar_files


def _score_as_served(staging: Path, corpus: Corpus, description: str) -> ScoredCorpus:
    """Score ``corpus`` through the serving engine on the staged bundle; every member must load."""
    engine = Engine.load(staging)
    try:
        if engine.unavailable:
            raise TrainingError(f"trained members failed to load: {engine.unavailable}")
        return score_corpus(engine, corpus, description)
    finally:
        engine.close()


def _fit_ensemble(staging: Path, manifest: Manifest, valid: Corpus, calibrate: bool) -> None:
    """Fit the optional member calibrations, then the stacker, on the validation split's served scores."""
    what = "calibration and the stacked ensemble" if calibrate else "the stacked ensemble"
    with stage(f"Fitting {what} on the validation split ({len(valid)} texts)"):
        scored = _score_as_served(staging, valid, "Scoring the validation split")
        p_human = {name: result.p_human for name, result in scored.members.items()}
        if calibrate:
            for entry in manifest.members:
                calibration = fit_calibration(p_human[entry.name], valid.labels)
                entry.calibration = calibration.to_dict()
                p_human[entry.name] = calibration.apply(p_human[entry.name])
                note(f"{entry.name}: calibrated p = sigmoid({calibration.slope:.3f} · logit(p) "
                     f"{calibration.intercept:+.3f})")
        if len(p_human) < 2:
            note("one member: no stacked ensemble")
            return
        stacker = fit_stacker(p_human, valid.labels)
        manifest.ensemble[STACKED] = stacker.to_dict()
        note("stacker weights: " + ", ".join(f"{name} {weight:.3f}"
                                             for name, weight in zip(stacker.members, stacker.weights, strict=True)))


def _evaluate_on_test(staging: Path, manifest: Manifest, test: Corpus, options: TrainOptions) -> None:
    """Score the test split through the serving engine; store the metrics, pick the default method, and
    write the evaluation report into the bundle."""
    with stage(f"Evaluating on the test split ({len(test)} texts)"):
        scored = _score_as_served(staging, test, "Scoring the test split")
        report = evaluation_report(scored)
        for entry in manifest.members:
            entry.metrics.update(report["members"][entry.name]["metrics"])
            note(f"{entry.name}: AUC {entry.metrics['roc_auc']:.4f}, F1 {entry.metrics['f1']:.4f}")
        methods = {name: result["metrics"] for name, result in report["ensembles"].items()}
        for name, metrics in methods.items():
            note(f"ensemble ({name}): accuracy {metrics['accuracy']:.4f}, AUC {metrics['roc_auc']:.4f}")
        chosen = report["best_method"] if options.ensemble == "best" else options.ensemble
        manifest.ensemble.update(method=chosen, test_metrics=methods[chosen], methods=methods,
                                 best_on_test=report["best_method"])
        note(f"best method on the test split: {report['best_method']}; the bundle's default: {chosen}")
        context = {"bundle": manifest.bundle_id, "data": f"{options.data} (test split)",
                   "command": options.command, "created": manifest.created}
        write_report(report, scored, staging / REPORT_DIR, context)


def _bundle_id(manifest: Manifest) -> str:
    digest = hashlib.sha256()
    for path, checksum in sorted(manifest.shared_files.items()):
        digest.update(f"{path}:{checksum}".encode())
    for entry in manifest.members:
        for path, checksum in sorted(entry.files.items()):
            digest.update(f"{path}:{checksum}".encode())
    stamp = manifest.created.replace("-", "").replace(":", "").replace("+0000", "Z")
    return f"humanorai-{stamp}-{digest.hexdigest()[:10]}"
