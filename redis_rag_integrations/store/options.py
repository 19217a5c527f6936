"""The constructor spellings both adapters accept, turned into what the core takes.

Users coming from other Redis integrations write ``metadata_schema=[{"name": "year", "type": "numeric"}]`` and
pass index options (``vector_algorithm="flat"``, ``vector_datatype="float16"``...) as keywords; the core wants a
``{name: type}`` map and a validated :class:`~redis_rag_integrations.settings.Settings`. Doing the translation here
keeps the two adapters from drifting apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..settings import Settings, get_settings
from .auto_fields import AUTO, MetadataFields, check_spelling, is_auto
from .layout import FieldType

INDEX_OPTIONS = frozenset(
    {
        "vector_algorithm",
        "distance_metric",
        "vector_datatype",
        "hnsw_m",
        "hnsw_ef_construction",
        "hnsw_ef_runtime",
        "hybrid_fusion",
        "hybrid_alpha",
        "backend",
        "vectorset_quantization",
        "vectorset_reduce",
        "vectorset_filter_ef",
        "vectorset_threaded",
    }
)


def metadata_fields_from(
    metadata_fields: MetadataFields | None, metadata_schema: Sequence[Mapping[str, str]] | None
) -> dict[str, FieldType] | Literal["auto"] | None:
    """One ``{name: type}`` map from either spelling (giving both is an error: which one would win?), or ``"auto"``
    (:mod:`.auto_fields`)."""
    if is_auto(metadata_fields) and metadata_schema is None:
        return AUTO
    check_spelling(metadata_fields)
    if metadata_schema is None:
        return dict(metadata_fields) if metadata_fields is not None else None
    if metadata_fields is not None:
        raise ValueError("pass metadata_schema or metadata_fields, not both")
    fields: dict[str, Any] = {}
    for n, entry in enumerate(metadata_schema):
        if not isinstance(entry, Mapping) or set(entry) - {"name", "type"} or "name" not in entry:
            raise ValueError(
                f'metadata_schema[{n}] must look like {{"name": "year", "type": "numeric"}}, got {entry!r}'
            )
        fields[str(entry["name"])] = entry.get("type", "tag")
    return fields


def settings_with(settings: Settings | None, index_options: Mapping[str, Any]) -> Settings:
    """``settings`` (default: the process settings) with the index options applied and validated."""
    settings = settings or get_settings()
    unknown = set(index_options) - INDEX_OPTIONS
    if unknown:
        raise TypeError(f"unknown index option(s) {sorted(unknown)}; known: {sorted(INDEX_OPTIONS)}")
    if not index_options:
        return settings
    # Only the fields the caller set (and the options): the others stay defaults, so that an existing index built
    # with other vector settings is adopted, not refused for settings nobody chose (:mod:`.evolution`).
    return Settings.model_validate({**settings.model_dump(exclude_unset=True), **index_options})
