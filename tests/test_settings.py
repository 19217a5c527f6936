from __future__ import annotations

import pytest
from pydantic import ValidationError

from redis_rag_integrations import Settings


def test_defaults_are_documented_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.redis_url is None
    assert (s.vector_algorithm, s.distance_metric, s.vector_datatype) == ("hnsw", "cosine", "float32")
    assert s.prefix == "docs"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:6380/1")
    monkeypatch.setenv("REDIS_RAG_INDEX_NAME", "faq")
    monkeypatch.setenv("REDIS_RAG_VECTOR_DATATYPE", "float16")
    monkeypatch.setenv("REDIS_RAG_CACHE_TTL", "60")
    s = Settings()
    assert s.redis_url == "redis://example:6380/1"
    assert s.index_name == "faq" and s.prefix == "faq"
    assert s.vector_datatype == "float16"
    assert s.cache_ttl == 60


def test_code_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_RAG_INDEX_NAME", "faq")
    assert Settings(index_name="other", key_prefix="p").prefix == "p"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vector_algorithm", "ivf"),
        ("distance_metric", "hamming"),
        ("vector_datatype", "int8"),
        ("hnsw_m", 0),
        ("cache_distance_threshold", 3.0),
        ("cache_ttl", -5),
        ("history_ttl", 0),
        ("index_name", "has space"),
        ("redis_url", "http://localhost:6379"),
        ("socket_timeout", 0),
    ],
)
def test_invalid_values_fail_naming_the_setting(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(**{field: value})
    assert field in str(excinfo.value)


def test_openai_embeddings_need_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValidationError, match="OPENAI_API_KEY"):
        Settings(embedding_provider="openai")


def test_unknown_settings_are_rejected() -> None:
    with pytest.raises(ValidationError, match="index_nmae"):
        Settings(index_nmae="x")


def test_the_readme_settings_table_shows_the_numeric_defaults() -> None:
    """The README's settings table is written by hand; a number there must be the field's default (it showed 0.10
    for the cache threshold while the default was 0.35)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+)` \| `REDIS_RAG_[A-Z_]+` \| ([^|]+) \|", readme, flags=re.M)
    numeric = [(name, shown.strip().strip("`")) for name, shown in rows if re.fullmatch(r"`?-?[\d.]+`?", shown.strip())]
    assert len(numeric) >= 10, "the settings table was not found"
    for name, shown in numeric:
        assert name in Settings.model_fields, f"README lists an unknown setting {name}"
        assert float(shown) == float(Settings.model_fields[name].default), f"README default of {name}: {shown}"
