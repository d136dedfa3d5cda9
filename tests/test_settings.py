import importlib.util
from pathlib import Path

import pytest

from humanorai.settings import H2OSettings, ServiceSettings, TransformerTrainSettings


def test_defaults_bind_safe_limits() -> None:
    settings = ServiceSettings.from_env({})
    assert (settings.bundle, settings.api_key, settings.cors_origins) == (None, None, ())
    assert settings.max_text_chars == 100_000 and settings.engine.cache_size == 2048
    assert settings.engine.batching is not None and settings.engine.batching.max_wait_ms == 10.0


def test_environment_overrides() -> None:
    settings = ServiceSettings.from_env({
        "HUMANORAI_BUNDLE": "/srv/bundle", "HUMANORAI_API_KEY": "k", "HUMANORAI_CORS_ORIGINS": "https://a.example, https://b.example",
        "HUMANORAI_MAX_TEXT_CHARS": "500", "HUMANORAI_CACHE_SIZE": "0", "HUMANORAI_BATCHING": "0",
    })
    assert settings.bundle == Path("/srv/bundle") and settings.api_key == "k"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.max_text_chars == 500 and settings.engine.cache_size == 0
    # Batching off still schedules through the batcher (turns, deadlines), merging nothing.
    assert settings.engine.batching is not None and settings.engine.batching.max_batch_texts == 1


def test_a_non_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match="HUMANORAI_MAX_TEXT_CHARS='lots' is not a number"):
        ServiceSettings.from_env({"HUMANORAI_MAX_TEXT_CHARS": "lots"})


@pytest.mark.parametrize(("variable", "value"), [
    ("MAX_TEXT_CHARS", "-1"), ("MAX_TEXT_CHARS", "0"), ("MAX_BATCH_TEXTS", "inf"), ("CACHE_SIZE", "nan"),
    ("BATCH_WAIT_MS", "-5"), ("SHUTDOWN_GRACE_S", "-inf"), ("REQUEST_TIMEOUT_S", "0"), ("MAX_REQUEST_TOKENS", "nan"),
    ("MAX_BODY_BYTES", "-1"), ("MAX_HEADER_BYTES", "100"), ("HEADER_TIMEOUT_S", "inf"), ("MAX_CONNECTIONS", "0"),
])
def test_negative_zero_and_non_finite_limits_are_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"HUMANORAI_{variable}='{value}' must be a finite number of at least"):
        ServiceSettings.from_env({f"HUMANORAI_{variable}": value})


def test_an_empty_api_key_is_refused_rather_than_read_as_no_authentication() -> None:
    with pytest.raises(ValueError, match="HUMANORAI_API_KEY is set but empty"):
        ServiceSettings.from_env({"HUMANORAI_API_KEY": " "})
    assert ServiceSettings.from_env({}).api_key is None


def test_the_shutdown_grace_period_is_read_in_whole_seconds() -> None:
    assert ServiceSettings.from_env({}).shutdown_grace_s == 10
    assert ServiceSettings.from_env({"HUMANORAI_SHUTDOWN_GRACE_S": "2.5"}).shutdown_grace_s == 3


def test_segment_members_are_read_as_a_list_and_default_to_none() -> None:
    assert ServiceSettings.from_env({}).engine.segment_members is None
    chosen = ServiceSettings.from_env({"HUMANORAI_SEGMENT_MEMBERS": " drf, BERT ,"}).engine.segment_members
    assert chosen == ("drf", "BERT")
    with pytest.raises(ValueError, match="segment members: name at least one member"):
        ServiceSettings.from_env({"HUMANORAI_SEGMENT_MEMBERS": " , "})


def test_openvino_int8_without_nncf_is_refused_naming_the_option_and_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert TransformerTrainSettings(openvino_int8=True).int8_calibration_texts == 300  # nncf is installed here
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "nncf" else real_find_spec(name, *args))
    with pytest.raises(ValueError, match=r"--openvino-int8 needs the package nncf: pip install 'humanorai\[int8\]'"):
        TransformerTrainSettings(openvino_int8=True)
    assert TransformerTrainSettings().openvino_int8 is False  # the default asks nothing of nncf


def test_int8_calibration_needs_a_text() -> None:
    with pytest.raises(ValueError, match="--int8-calibration-texts must be at least 1, not 0"):
        TransformerTrainSettings(int8_calibration_texts=0)


@pytest.mark.parametrize("strength", [0.0, -1e-4, float("nan")])
def test_a_glm_strength_that_is_not_above_zero_is_refused_naming_the_option(strength: float) -> None:
    with pytest.raises(ValueError, match="--glm-lambda"):
        H2OSettings(glm_lambda=strength)


def test_trees_reading_no_column_are_refused_naming_the_option() -> None:
    with pytest.raises(ValueError, match="--tree-features must be at least 1, not 0"):
        H2OSettings(tree_features=0)
