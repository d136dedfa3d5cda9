from pathlib import Path

import pytest

from humanorai.settings import ServiceSettings


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
    assert settings.max_text_chars == 500 and settings.engine.cache_size == 0 and settings.engine.batching is None


def test_a_non_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match="HUMANORAI_MAX_TEXT_CHARS='lots' is not a number"):
        ServiceSettings.from_env({"HUMANORAI_MAX_TEXT_CHARS": "lots"})
