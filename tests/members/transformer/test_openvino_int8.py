"""The OpenVINO static INT8 export: a seeded calibration sample, and a graph whose matrix products are
really quantised (the session bundle is trained with ``--openvino-int8``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from humanorai.members.transformer.backends import OPENVINO_INT8
from humanorai.members.transformer.openvino_int8 import calibration_sample


def test_the_calibration_sample_is_seeded_without_repeats_and_at_most_the_texts() -> None:
    texts = [f"text {index}" for index in range(1000)]
    sample = calibration_sample(texts, seed=42, size=300)
    assert len(sample) == len(set(sample)) == 300
    assert sample == calibration_sample(texts, seed=42, size=300)
    assert sample != calibration_sample(texts, seed=7, size=300)
    assert sample == sorted(sample, key=texts.index)  # in corpus order
    assert calibration_sample(texts[:5], seed=42, size=300) == texts[:5]


def weight_type(port: Any) -> str | None:
    """The element type of the constant a MatMul input comes from (through dequantisation and layout
    operations), or None when it comes from an activation."""
    node = port.get_source_output().get_node()
    while node.get_type_name() in ("Convert", "Subtract", "Multiply", "Reshape", "Transpose"):
        constants = [value for value in node.input_values() if value.get_node().get_type_name() == "Constant"]
        node = (constants[0] if node.get_type_name() == "Convert" or len(constants) == 2 else
                next(value for value in node.input_values() if value not in constants)).get_node()
    return str(node.get_element_type()) if node.get_type_name() == "Constant" else None


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["bert", "roberta"])
def test_every_matrix_product_with_a_weight_runs_in_int8(tiny_bundle: Path, folder: str) -> None:
    import openvino

    model = openvino.Core().read_model(tiny_bundle / folder / OPENVINO_INT8)
    with_weights = [(op.inputs()[0].get_source_output().get_node().get_type_name(), weight_type(op.inputs()[1]))
                    for op in model.get_ordered_ops()
                    if op.get_type_name() == "MatMul" and weight_type(op.inputs()[1]) is not None]
    # The tiny models: 2 layers x (packed query-key-value, attention output, 2 feed-forward) + pooler + classifier;
    # static: each one's activations pass a FakeQuantize with scales fixed by the calibration.
    assert with_weights == [("FakeQuantize", "<Type: 'int8_t'>")] * (2 * 4 + 2)
    assert {"input_ids", "attention_mask"} == {name for port in model.inputs for name in port.get_names()}
