import pytest

from humanorai.labels import AI, HUMAN, LABEL_MAP, parse_label


@pytest.mark.parametrize(("value", "expected"), [
    ("1", HUMAN), ("0", AI), (1, HUMAN), (0, AI), ("HUMAN", HUMAN), ("human", HUMAN), (" Ai ", AI),
    ("1.0", HUMAN), (0.0, AI),
])
def test_accepted_labels(value: object, expected: int) -> None:
    assert parse_label(value) == expected


@pytest.mark.parametrize("value", ["2", "yes", "", "machine", True, None, -1])
def test_other_labels_are_errors(value: object) -> None:
    with pytest.raises(ValueError, match="label"):
        parse_label(value)


def test_label_map_is_the_original_convention() -> None:
    assert LABEL_MAP == {1: "HUMAN", 0: "AI"}
