"""The H2O family: DRF, GBM and GLM on shared TF-IDF features, trained in an H2O cluster and served from
their MOJOs in process. Heavy imports (JPype, H2O) happen inside the methods that need them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from humanorai.bundle import Manifest, MemberEntry
from humanorai.members.base import BundleContext, FamilyBuild, Member, MemberGroup, TrainingJob

if TYPE_CHECKING:
    from humanorai.members.h2o.features import TfidfFeatures

#: Bundle folders of the family: the TF-IDF files, and the MOJOs with the genmodel jar.
TFIDF_DIR = "tfidf"
H2O_DIR = "h2o"


class H2OFamily:
    kind: str = "h2o-mojo"
    members: tuple[str, ...] = ("DRF", "GBM", "GLM")
    threaded: bool = False

    def describe(self) -> str:
        return "DRF, GBM, GLM: H2O models on TF-IDF word n-grams, scored in process from their MOJOs"

    def train(self, job: TrainingJob) -> FamilyBuild:
        from humanorai.members.h2o.train import train_h2o_family

        return train_h2o_family(job, self.kind)

    def load(self, context: BundleContext, entry: MemberEntry) -> Member:
        from humanorai.members.h2o.member import MojoMember

        return MojoMember(name=entry.name, mojo_path=context.root / entry.options["mojo"],
                          genmodel_jar=context.root / entry.options["genmodel_jar"], tfidf=tfidf_of(context),
                          threshold=entry.threshold)

    def shared_files(self, manifest: Manifest) -> dict[str, str]:
        """The TF-IDF files and the genmodel jar."""
        return {path: digest for path, digest in manifest.shared_files.items()
                if path.split("/", 1)[0] in (TFIDF_DIR, H2O_DIR)}

    def groups(self, members: list[Member], context: BundleContext) -> list[MemberGroup]:
        """One group: the members read one TF-IDF matrix, computed first and timed as ``tfidf``."""
        from humanorai.members.h2o.member import tfidf_matrix

        if not members:
            return []
        tfidf = tfidf_of(context)
        return [MemberGroup(members, prepare=("tfidf", lambda batch: tfidf_matrix(batch, tfidf)))]


def tfidf_of(context: BundleContext) -> TfidfFeatures:
    """The bundle's TF-IDF vectorizer, loaded once per bundle."""
    from humanorai.members.h2o.features import TfidfFeatures

    return context.resource("tfidf", lambda: TfidfFeatures.load(context.root / TFIDF_DIR))
