"""The texts a bundle's training never saw: the rows of the groups its test split held out.

A bundle trained with ``--group-by`` records its command line and the groups of each split, so reading
its data files again with the same column and group options finds the rows of its test groups. What is measured on
them (segment scores: ``experiments/segment_auc.py`` and the corpus test of segments) is measured on texts
no member was fitted or stopped on.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from humanorai.bundle import Manifest, sha256_of
from humanorai.corpus import Corpus, capped, load_sources
from humanorai.errors import DataError
from humanorai.settings import DataSettings, DataSource, TrainSettings


def held_out_corpus(manifest: Manifest, root: Path, data: Sequence[Path] = (), as_sampled: bool = False) -> Corpus:
    """The rows of ``manifest``'s test groups in ``data`` (default: the data files its training records,
    relative to ``root``, the folder the training ran in). Each file must be the one the training read (its
    sha256, where recorded): in a changed file the same groups hold other texts, perhaps trained on.

    ``as_sampled`` keeps only the rows the training's ``--sample-per-group`` drew (with its ``--seed``): the
    test split its report scored, checked against the row count the manifest records."""
    options = _command_options(manifest.command)
    if "--group-by" not in options:
        raise DataError("the bundle was trained without --group-by: its held-out texts cannot be told apart")
    recorded = manifest.training.get("data")
    if not data and not recorded:
        raise DataError("the manifest records no data files; name them")
    # One file recorded as its path (older bundles), or a list of {"path", "sha256", ...}.
    entries = recorded if isinstance(recorded, list) else [{"path": recorded}] if recorded else []
    paths = list(data) or [root / str(entry["path"]) for entry in entries]
    if entries and len(paths) != len(entries):
        raise DataError(f"the bundle was trained on {len(entries)} data files, not {len(paths)}: "
                        f"{', '.join(str(entry['path']) for entry in entries)}")
    # As many as recorded (checked above); with none recorded, load_sources names a file that is missing.
    for path, entry in zip(paths, entries, strict=False):
        _check_recorded(path, entry)
    columns = DataSettings(text_column=options.get("--text-column", DataSettings.text_column),
                           label_column=options.get("--label-column", DataSettings.label_column),
                           group_by=options["--group-by"], group_pattern=options.get("--group-pattern"))
    corpus = load_sources([DataSource(path, columns) for path in paths])[0]
    test = manifest.training["split"]["test"]
    if as_sampled and "--sample-per-group" in options:
        corpus = capped(corpus, int(options["--sample-per-group"]), int(options.get("--seed", TrainSettings.seed)))
    assert corpus.groups is not None  # read with a group column
    held_out = corpus.subset(np.flatnonzero(np.isin(corpus.groups, test["groups"])))
    if as_sampled and len(held_out) != test["rows"]:
        raise DataError(f"{len(held_out)} texts found for the test split, whose report scored {test['rows']}: "
                        "the data or the sampling differ from the training's")
    return held_out


def _check_recorded(path: Path, entry: dict[str, object]) -> None:
    """Fail unless ``path`` is there and, where ``entry`` records a sha256, has it."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (the bundle's training read {entry['path']})")
    if "sha256" in entry and sha256_of(path) != entry["sha256"]:
        raise DataError(f"{path} is not the file the bundle was trained on ({entry['path']}, sha256 "
                        f"{str(entry['sha256'])[:12]}…): its held-out groups may hold other texts")


def _command_options(command: str) -> dict[str, str]:
    """``--option value`` (or ``--option=value``) pairs of a recorded command line."""
    words = shlex.split(command)
    options = {}
    for index, word in enumerate(words):
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
            options[name] = value
        elif word.startswith("--") and index + 1 < len(words) and not words[index + 1].startswith("--"):
            options[word] = words[index + 1]
    return options
