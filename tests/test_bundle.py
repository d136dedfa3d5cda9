import json
import shutil
from pathlib import Path

import pytest

from humanorai.bundle import MANIFEST_FILE, BundleError, Manifest, load_bundle, read_manifest, write_manifest
from humanorai.members.h2o.family import H2O_DIR
from humanorai.members.h2o.features import FeatureSet
from humanorai.members.h2o.member import MojoMember
from humanorai.members.h2o.train import GENMODEL_JAR

pytestmark = pytest.mark.slow


def listed_files(bundle: Path) -> list[str]:
    manifest = read_manifest(bundle)
    files = list(manifest.shared_files)
    for entry in manifest.members:
        files.extend(entry.files)
    return files


def test_manifest_round_trip(tiny_bundle: Path, tmp_path: Path) -> None:
    manifest = load_bundle(tiny_bundle)
    write_manifest(tmp_path, manifest)
    again = read_manifest(tmp_path)
    assert again == manifest
    assert Manifest.from_dict(json.loads((tmp_path / MANIFEST_FILE).read_text())).to_dict() == manifest.to_dict()


def test_manifest_records_what_design_asks_for(tiny_bundle: Path) -> None:
    data = json.loads((tiny_bundle / MANIFEST_FILE).read_text())
    assert data["schema_version"] == 1
    assert data["label_map"] == {"1": "HUMAN", "0": "AI"}
    assert data["bundle_id"].startswith("humanorai-")
    assert data["preprocessing"]["tfidf"]["normalization"]["version"] == 1
    assert data["command"].startswith("humanorai train ")
    assert [member["name"] for member in data["members"]] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    for member in data["members"]:
        assert member["threshold"] == 0.5
        assert {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} <= set(member["metrics"])
        assert member["metrics"]["roc_auc"] > 0.8
        assert all(len(digest) == 64 for digest in member["files"].values())
    assert set(data["shared_files"]) == {"tfidf/vocabulary.json", "tfidf/idf.npz", "tfidf/params.json",
                                         "h2o/h2o-genmodel.jar"}
    assert data["training"]["split"]["grouped"] is True
    for folder in ("bert", "roberta"):
        member_files = next(m["files"] for m in data["members"] if m["options"].get("folder") == folder)
        assert {f"{folder}/{name}" for name in ("config.json", "model.safetensors", "tokenizer.json", "model.onnx",
                                                "model.int8.onnx", "openvino.int8.xml", "openvino.int8.bin")
                } <= set(member_files)
    assert data["training"]["transformers"]["openvino_int8"] is True
    assert data["training"]["transformers"]["int8_calibration_texts"] == 64


def test_every_model_file_is_listed_and_no_pickle(tiny_bundle: Path) -> None:
    on_disk = {path.relative_to(tiny_bundle).as_posix() for path in tiny_bundle.rglob("*") if path.is_file()}
    # The evaluation report documents the bundle (the manifest names its folder); serving never reads it.
    report = {f"report/{name}" for name in ("report.md", "report.json", "roc.png", "reliability.png")}
    assert json.loads((tiny_bundle / MANIFEST_FILE).read_text())["training"]["report"] == "report/"
    assert on_disk == set(listed_files(tiny_bundle)) | {MANIFEST_FILE} | report
    assert not [name for name in on_disk if name.endswith((".pkl", ".pickle", ".joblib"))]


#: TF-IDF (3), jar, 3 MOJOs; per transformer: HF config, tokenizer (2), weights, 2 ONNX, OpenVINO INT8 (2).
FILE_COUNT = 7 + 2 * 8


@pytest.mark.parametrize("index", range(FILE_COUNT))
def test_a_flipped_byte_in_any_file_is_refused_naming_the_file(tiny_bundle: Path, tmp_path: Path, index: int) -> None:
    files = sorted(listed_files(tiny_bundle))
    assert len(files) == FILE_COUNT
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    target = copy / files[index]
    content = bytearray(target.read_bytes())
    content[len(content) // 2] ^= 0x01
    target.write_bytes(bytes(content))
    with pytest.raises(BundleError, match=f"^{files[index]}: sha256 mismatch"):
        load_bundle(copy)


def test_missing_file_and_other_schema_are_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "h2o" / "GBM.zip").unlink()
    with pytest.raises(BundleError, match="^h2o/GBM.zip: listed in manifest.json but missing"):
        load_bundle(copy)
    data = json.loads((copy / MANIFEST_FILE).read_text())
    data["schema_version"] = 99
    (copy / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="schema version 99"):
        load_bundle(copy)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such bundle folder"):
        load_bundle(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="manifest.json: missing"):
        load_bundle(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path)


def test_the_trees_read_only_the_most_common_terms_and_glm_reads_them_all(tiny_bundle: Path) -> None:
    """``--tree-features 150``: DRF's and GBM's MOJOs read only the 150 terms most training texts contain."""
    data = json.loads((tiny_bundle / MANIFEST_FILE).read_text())
    assert data["training"]["h2o"]["tree_features"] == 150
    features = FeatureSet.load(tiny_bundle, data["preprocessing"])
    names = features.feature_names()
    common = {names[position] for position in features.most_common_columns(150)}
    read = {}
    for name in ("DRF", "GBM", "GLM"):
        member = MojoMember(name, tiny_bundle / H2O_DIR / f"{name}.zip", tiny_bundle / H2O_DIR / GENMODEL_JAR,
                            features)
        read[name] = {names[position] for position in member._columns}
    assert read["DRF"] <= common and read["GBM"] <= common
    assert len(read["GLM"] - common) > 50
