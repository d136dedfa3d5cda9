"""Train the asked-for transformers into a bundle: fine-tune, save in HF format, export ONNX (FP32, INT8) and,
when asked, an OpenVINO static INT8 model."""

from __future__ import annotations

from humanorai.bundle import MemberEntry, checksums
from humanorai.corpus import Corpus
from humanorai.members.base import FamilyBuild, TrainingJob
from humanorai.members.transformer.backends import ONNX_FP32, WEIGHTS
from humanorai.members.transformer.checkpoints import PRESETS, save_hf, starting_model
from humanorai.members.transformer.export import export_onnx
from humanorai.members.transformer.fine_tune import fine_tune_until_learned, learning_schedule
from humanorai.members.transformer.openvino_int8 import (
    calibration_inputs,
    calibration_sample,
    export_openvino_int8,
)
from humanorai.progress import note, stage
from humanorai.settings import TrainSettings
from humanorai.text import RAW, normalize


def train_transformer_family(job: TrainingJob, kind: str) -> FamilyBuild:
    settings = job.settings.transformers
    training = {member: _training_texts(member, job) for member in job.members}
    entries = [_train_one(member, job, training[member], kind) for member in job.members]
    return FamilyBuild(entries=entries, training={"transformers": {
        "preset": settings.preset, **vars(settings.fine_tune), "openvino_int8": settings.openvino_int8,
        "int8_calibration_texts": settings.int8_calibration_texts if settings.openvino_int8 else None,
        "sample_per_group": {member: settings.sample_per_group[member] for member in job.members},
        "training_texts": {member: len(texts) for member, texts in training.items()}}})


def _training_texts(member: str, job: TrainingJob) -> Corpus:
    """The member's training texts: its own larger sample of the training groups where one is asked for."""
    most = job.settings.transformers.sample_per_group[member]
    training = job.split.training_texts(most, job.settings.seed)
    if most is not None:
        note(f"{member} trains on {len(training)} texts of the training split's groups: at most {most} per "
             f"group ({len(job.split.train)} in the sampled training split)")
    return training


def _base(member: str, settings: TrainSettings) -> str | None:
    return settings.transformers.bert_base if member == "BERT" else settings.transformers.roberta_base


def _train_one(member: str, job: TrainingJob, training: Corpus, kind: str) -> MemberEntry:
    """Fine-tune one transformer on ``training``, save it in HF format and export its ONNX files."""
    split, staging = job.split, job.staging
    options = job.settings.transformers
    settings = options.fine_tune
    base = _base(member, job.settings)
    folder = staging / member.lower()
    with stage(f"Training {member} ({base or 'preset ' + options.preset})"):
        train_texts = [normalize(text, RAW) for text in training.texts]
        preset = PRESETS[options.preset] if base is None else None
        model, tokenizer, metrics = fine_tune_until_learned(
            lambda: starting_model(member, base, preset, train_texts, settings.max_length), RAW,
            (training.texts, training.labels), (split.valid.texts, split.valid.labels), settings,
            *learning_schedule(settings, preset))
        files = save_hf(model, tokenizer, folder)
    with stage(f"Exporting {member} to ONNX (fp32 with fused attention, int8)"):
        files += export_onnx(folder)
    if options.openvino_int8:
        calibration = calibration_sample(train_texts, job.settings.seed, options.int8_calibration_texts)
        with stage(f"Quantising {member} to static INT8 for OpenVINO ({len(calibration)} training texts calibrate it)"):
            files += export_openvino_int8(folder, calibration_inputs(tokenizer, calibration, settings.max_length))
    if job.settings.serving_only:
        for name in (WEIGHTS, ONNX_FP32):
            (folder / name).unlink()
        files = [path for path in files if path.is_file()]
    return MemberEntry(
        name=member, kind=kind, files=checksums(staging, files), threshold=0.5, metrics=metrics,
        options={"folder": member.lower(), "max_length": settings.max_length, "normalization": RAW.to_dict(),
                 "base": base or f"preset:{options.preset}"},
    )
