"""Index names, exact or a clear refusal: a name the engine would store differently is refused before anything is
created (the engine cuts a name at NUL, and ``FT._LIST`` shows a CR as the two characters ``\\r``, so the index
could not be found again under the name the caller gave)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex

DIMS = 4


@given(suffix=st.text(min_size=1, max_size=12))
@example(suffix="a\x00b")
@example(suffix="a\rb")
@example(suffix="\x7f")
@example(suffix=":")  # rstrip(":") of the stored prefix took this name's colon too: ids came back as ":r1"
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_index_name_is_kept_exactly_or_refused(settings: Settings, client, suffix: str) -> None:
    name = f"names-{uuid.uuid4().hex[:8]}-{suffix}"
    try:
        index = RedisVectorIndex(name, dims=DIMS, settings=settings)
    except ValueError as exc:
        assert "index_name" in str(exc)
        assert not [n for n in client.execute_command("FT._LIST") if n.decode("utf-8", "replace").startswith(name[:15])]
        return
    try:
        listed = {n.decode("utf-8", "surrogateescape") for n in client.execute_command("FT._LIST")}
        assert name in listed  # the engine lists it under exactly the caller's name
        index.upsert([Record("r1", "text", np.ones(DIMS, dtype=np.float32))])
        reopened = RedisVectorIndex(name, settings=settings, create=False)
        assert [h.record.id for h in reopened.search(np.ones(DIMS, dtype=np.float32), k=1)] == ["r1"]
    finally:
        index.drop()


def test_a_nul_in_the_name_names_the_problem(settings: Settings) -> None:
    with pytest.raises(ValueError, match="control character"):
        RedisVectorIndex("a\x00b", dims=DIMS, settings=settings)
