"""The H2O family: DRF, GBM and GLM on shared TF-IDF features, trained in an H2O cluster and served from
their MOJOs in process. Heavy imports (JPype, H2O) happen inside the methods that need them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from humanorai.bundle import Manifest, MemberEntry
from humanorai.members.base import BundleContext, FamilyBuild, Member, MemberGroup, TrainingJob
from humanorai.progress import stage
from humanorai.settings import TrainSettings

if TYPE_CHECKING:
    from humanorai.members.h2o.features import FeatureSet

#: The bundle folder of each block of features, in column order (the word block keeps the folder of
#: bundles from before other blocks), and that of the MOJOs with the genmodel jar.
BLOCK_DIRS: dict[str, str] = {"word": "tfidf", "char": "tfidf-char", "style": "style"}
H2O_DIR = "h2o"


class H2OFamily:
    kind: str = "h2o-mojo"
    members: tuple[str, ...] = ("DRF", "GBM", "GLM")
    threaded: bool = False

    def describe(self) -> str:
        return ("DRF, GBM, GLM: H2O models on TF-IDF n-grams (and stylometric measures, see --features), scored "
                "in process from their MOJOs")

    def train(self, job: TrainingJob) -> FamilyBuild:
        from humanorai.members.h2o.train import train_h2o_family

        return train_h2o_family(job, self.kind)

    @contextlib.contextmanager
    def session(self, settings: TrainSettings) -> Iterator[TrainSettings]:
        """One H2O cluster for every training in the block (unless one is given by URL or none is needed)."""
        if settings.h2o_url is not None or not set(self.members) & set(settings.members or self.members):
            yield settings
            return
        from humanorai.members.h2o.cluster import h2o_cluster

        with contextlib.ExitStack() as started:
            with stage("Starting H2O for every training that follows"):
                url = started.enter_context(h2o_cluster())
            yield replace(settings, h2o_url=url)

    def load(self, context: BundleContext, entry: MemberEntry) -> Member:
        from humanorai.members.h2o.member import MojoMember

        return MojoMember(name=entry.name, mojo_path=context.root / entry.options["mojo"],
                          genmodel_jar=context.root / entry.options["genmodel_jar"], features=features_of(context),
                          threshold=entry.threshold)

    def shared_files(self, manifest: Manifest) -> dict[str, str]:
        """The TF-IDF blocks' files and the genmodel jar."""
        return {path: digest for path, digest in manifest.shared_files.items()
                if path.split("/", 1)[0] in (*BLOCK_DIRS.values(), H2O_DIR)}

    def groups(self, members: list[Member], context: BundleContext) -> list[MemberGroup]:
        """One group: the members read one TF-IDF matrix, computed first and timed as ``tfidf``."""
        from humanorai.members.h2o.member import tfidf_matrix

        if not members:
            return []
        features = features_of(context)
        return [MemberGroup(members, prepare=("tfidf", lambda batch: tfidf_matrix(batch, features)))]


def features_of(context: BundleContext) -> FeatureSet:
    """The bundle's TF-IDF blocks, loaded once per bundle."""
    from humanorai.members.h2o.features import FeatureSet

    return context.resource("tfidf", lambda: FeatureSet.load(context.root, context.manifest.preprocessing))
