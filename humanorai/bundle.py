"""Read, write and verify model bundles.

A bundle is a folder of data files — JSON, npz, MOJO zips, ONNX, safetensors, never pickle — described by
``manifest.json``. Loading checks the schema version and the sha256 of every listed file, and names the
file at fault, so a truncated copy or a tampered model is refused before it can score anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from humanorai.errors import BundleError
from humanorai.labels import LABEL_MAP

SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class MemberEntry:
    """One ensemble member as the manifest lists it.

    ``files`` maps bundle-relative paths to their sha256. ``threshold`` is the ``p_human`` at or above
    which the member votes HUMAN; ``options`` holds what the member needs to be rebuilt (e.g. which
    shared features it reads). ``calibration`` (optional) is a Platt scaling fitted on validation,
    ``{"slope": a, "intercept": b}``, applied to the member's ``p_human`` before it votes.
    """

    name: str
    kind: str
    files: dict[str, str]
    threshold: float = 0.5
    metrics: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, float] | None = None


@dataclass(frozen=True)
class Manifest:
    """Everything needed to serve, audit and rebuild a bundle."""

    bundle_id: str
    created: str
    preprocessing: dict[str, Any]
    members: list[MemberEntry]
    shared_files: dict[str, str]
    ensemble: dict[str, Any]
    training: dict[str, Any]
    command: str
    label_map: dict[str, str] = field(default_factory=lambda: {str(k): v for k, v in LABEL_MAP.items()})
    schema_version: int = SCHEMA_VERSION

    def member(self, name: str) -> MemberEntry:
        for entry in self.members:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{MANIFEST_FILE}: schema version {version!r} is not supported "
                f"(this humanorai reads version {SCHEMA_VERSION})"
            )
        try:
            members = [MemberEntry(**entry) for entry in data["members"]]
            fields = {key: data[key] for key in cls.__dataclass_fields__ if key != "members"}
            manifest = cls(members=members, **fields)
        except (KeyError, TypeError) as error:
            raise BundleError(f"{MANIFEST_FILE}: malformed manifest ({error})") from error
        if manifest.label_map != {str(k): v for k, v in LABEL_MAP.items()}:
            raise BundleError(f"{MANIFEST_FILE}: label map {manifest.label_map} is not 1 = HUMAN, 0 = AI")
        return manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(root: Path, paths: list[Path]) -> dict[str, str]:
    """Map each path (inside ``root``) to its sha256, keyed by its POSIX path relative to ``root``."""
    return {path.relative_to(root).as_posix(): sha256_of(path) for path in paths}


def write_manifest(root: Path, manifest: Manifest) -> Path:
    path = root / MANIFEST_FILE
    path.write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(root: Path) -> Manifest:
    """Parse ``manifest.json`` without checking file checksums (see :func:`load_bundle`)."""
    path = root / MANIFEST_FILE
    if not root.is_dir():
        raise BundleError(f"{root}: no such bundle folder")
    if not path.is_file():
        raise BundleError(f"{path}: missing; is {root} a humanorai bundle?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a JSON object")
    return Manifest.from_dict(data)


def verify_files(root: Path, expected: dict[str, str]) -> None:
    """Raise :class:`BundleError` naming the first file that is missing or fails its sha256."""
    for relative, digest in expected.items():
        path = root / relative
        if not path.is_file():
            raise BundleError(f"{relative}: listed in {MANIFEST_FILE} but missing from {root}")
        actual = sha256_of(path)
        if actual != digest:
            raise BundleError(f"{relative}: sha256 mismatch (expected {digest[:12]}…, found {actual[:12]}…)")


def load_bundle(root: Path) -> Manifest:
    """Read the manifest and verify every file it lists; the bundle is safe to score once this returns."""
    manifest = read_manifest(root)
    verify_files(root, manifest.shared_files)
    for entry in manifest.members:
        verify_files(root, entry.files)
    return manifest
