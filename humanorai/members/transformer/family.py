"""The transformer family: BERT and RoBERTa sequence classifiers, fine-tuned in PyTorch and served from
ONNX Runtime, OpenVINO or PyTorch, long texts in overlapping windows. Heavy imports (PyTorch,
transformers, ONNX Runtime) happen inside the methods that need them."""

from __future__ import annotations

import contextlib
import logging

from humanorai.bundle import Manifest, MemberEntry
from humanorai.members.base import BundleContext, FamilyBuild, Member, MemberGroup, TrainingJob
from humanorai.settings import TrainSettings
from humanorai.text import NormalizationSpec

logger = logging.getLogger(__name__)


class TransformerFamily:
    kind: str = "transformer"
    members: tuple[str, ...] = ("BERT", "RoBERTa")
    threaded: bool = True

    def describe(self) -> str:
        return "BERT, RoBERTa: fine-tuned transformers, served by ONNX Runtime, OpenVINO or PyTorch"

    def train(self, job: TrainingJob) -> FamilyBuild:
        from humanorai.members.transformer.train import train_transformer_family

        return train_transformer_family(job, self.kind)

    def session(self, settings: TrainSettings) -> contextlib.AbstractContextManager[TrainSettings]:
        """Nothing to share between trainings."""
        return contextlib.nullcontext(settings)

    def load(self, context: BundleContext, entry: MemberEntry) -> Member:
        from humanorai.members.transformer.backends import make_backend
        from humanorai.members.transformer.member import (
            CPU_TOKENS_PER_RUN,
            GPU_TOKENS_PER_RUN,
            TransformerMember,
            WindowSettings,
        )

        folder = context.root / entry.options["folder"]
        settings = context.transformers
        max_length = settings.max_length or int(entry.options["max_length"])
        backend = make_backend(folder, settings.backend, settings.precision, settings.device, settings.threads,
                               graph_window_length=max_length if settings.cuda_graphs else None)
        windows = WindowSettings(max_length=max_length, stride=settings.stride or max_length // 4,
                                 max_tokens_per_run=GPU_TOKENS_PER_RUN if backend.device == "cuda"
                                 else CPU_TOKENS_PER_RUN,
                                 aggregation=settings.window_aggregation)
        member = TransformerMember(entry.name, folder, NormalizationSpec.from_dict(entry.options["normalization"]),
                                   backend, windows, entry.threshold)
        logger.info("%s runs on %s", entry.name, backend.description)
        return member

    def shared_files(self, manifest: Manifest) -> dict[str, str]:
        """None: each member's folder is its own."""
        return {}

    def groups(self, members: list[Member], context: BundleContext) -> list[MemberGroup]:
        """Each member on its own, so BERT and RoBERTa run at the same time."""
        return [MemberGroup([member]) for member in members]
