"""``redis-rag index list|info|drop`` against the real test server: kinds, counts, dims, what a drop keeps, refusals."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.cli import build_parser
from redis_rag_integrations.store import Record, RedisVectorIndex, evolution


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations", "index", *args, "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def indexes(redis_url: str, client: redis.Redis, unique_name: str) -> Iterator[dict[str, str]]:
    """One index of each kind: ours (vector store with a field, semantic cache), langchain-redis legacy, foreign."""
    s = Settings(redis_url=redis_url)
    store = RedisVectorIndex(unique_name + "-docs", dims=4, metadata_fields={"team": "tag"}, settings=s)
    vectors = np.eye(4, dtype=np.float32)
    store.upsert([Record(f"r{i}", "x", vectors[i], metadata={"team": "a"}) for i in range(3)])
    SemanticCache(HashEmbedder(), name=unique_name + "-cache", settings=s).store("q?", "a")
    legacy, foreign = unique_name + "-lc", unique_name + "-foreign"
    client.execute_command(
        "FT.CREATE", legacy, "ON", "HASH", "PREFIX", "1", legacy + ":", "SCHEMA", "text", "TEXT",
        "embedding", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "8", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    client.hset(legacy + ":1", mapping={"text": "hi", "embedding": np.ones(8, dtype=np.float32).tobytes()})
    client.execute_command("FT.CREATE", foreign, "ON", "HASH", "PREFIX", "1", foreign + ":", "SCHEMA", "body", "TEXT")
    client.hset(foreign + ":1", "body", "theirs")
    names = {"store": store.name, "cache": unique_name + "-cache", "legacy": legacy, "foreign": foreign}
    yield names
    for name in names.values():
        with contextlib.suppress(redis.ResponseError):
            client.execute_command("FT.DROPINDEX", name, "DD")
    for key in client.scan_iter(match=f"{unique_name}*"):
        client.delete(key)


def test_list_and_info_show_kind_documents_dims_and_fields(redis_url: str, indexes: dict[str, str]) -> None:
    done = run(redis_url, "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = {d["name"]: d for d in json.loads(done.stdout)}
    got = {k: (listed[n]["kind"], listed[n]["docs"], listed[n]["dims"]) for k, n in indexes.items()}
    assert got["store"] == ("native vector store", 3, 4)
    assert got["cache"][0] == "native semantic cache" and got["cache"][1] == 1
    assert got["legacy"] == ("langchain-redis (legacy)", 1, 8)
    assert got["foreign"] == ("foreign", 1, None)
    table = run(redis_url, "list")
    assert table.returncode == 0 and indexes["store"] in table.stdout and "native vector store" in table.stdout

    info = run(redis_url, "info", indexes["store"])
    assert info.returncode == 0, info.stderr
    assert "4 dims, cosine, hnsw" in info.stdout and "team: tag" in info.stdout and "3 document(s)" in info.stdout
    as_json = json.loads(run(redis_url, "info", indexes["legacy"], "--json").stdout)[0]
    fields = {"text": "text", "embedding": "vector"}
    assert (as_json["metric"], as_json["algorithm"], as_json["fields"]) == ("l2", "flat", fields)


def test_drop_keeps_records_by_default_and_refuses_what_is_not_ours(
    redis_url: str, client: redis.Redis, indexes: dict[str, str]
) -> None:
    store = indexes["store"]
    done = run(redis_url, "drop", store)
    assert done.returncode == 0, done.stderr
    assert "records kept" in done.stdout
    assert store.encode() not in client.execute_command("FT._LIST")
    assert client.exists(f"{store}:r0", f"{store}:r1", f"{store}:r2") == 3
    # reopened: the index is re-created over the kept records, the declared field re-encoded
    reopened = RedisVectorIndex(store, dims=4, metadata_fields={"team": "tag"}, settings=Settings(redis_url=redis_url))
    assert {r.id for r in reopened.find({"team": "a"})} == {"r0", "r1", "r2"}
    assert not client.exists(evolution.marker_key(reopened.layout))

    for kind in ("foreign", "legacy"):
        refused = run(redis_url, "drop", indexes[kind])
        assert refused.returncode == 2 and "--force" in refused.stdout, refused.stdout
        assert indexes[kind].encode() in client.execute_command("FT._LIST")
    forced = run(redis_url, "drop", indexes["foreign"], "--force", "--delete-documents")
    assert forced.returncode == 0 and "records deleted" in forced.stdout
    assert not client.exists(indexes["foreign"] + ":1")

    gone = run(redis_url, "drop", store, "--delete-documents")
    assert gone.returncode == 0 and not client.exists(f"{store}:r0")
    missing = run(redis_url, "info", store)
    assert missing.returncode == 2 and f"no index named {store!r}" in missing.stdout
    assert run(redis_url, "drop").returncode == 2


#: No NUL: the engine cuts an index name at NUL in every command, so ``a\x00b`` and ``a`` are one index there.
NAMES = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=8)


@given(name=NAMES, probe=NAMES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_index_name_is_described_and_dropped_exactly(
    redis_url: str, client: redis.Redis, capsys: pytest.CaptureFixture[str], name: str, probe: str
) -> None:
    """Index names nobody chose (spaces, brackets, quotes, non-ASCII): the one named is shown and dropped, a name that
    does not exist is a clear error, and no other index is touched."""
    tag = uuid.uuid4().hex[:8]
    real, other = f"{name}{tag}", f"{name}{tag}x"
    for n in (real, other):
        client.execute_command("FT.CREATE", n, "ON", "HASH", "PREFIX", "1", f"k{tag}{n}:", "SCHEMA", "f", "TAG")

    def cli(action: str, index: str, *flags: str) -> tuple[int, str]:
        # options first, ``--`` before the name: a name may start with "-" (as with any command line)
        parsed = build_parser().parse_args(["index", *flags, "--url", redis_url, action, "--", index])
        code = parsed.handler(parsed)
        return code, capsys.readouterr().out

    try:
        code, out = cli("info", real, "--json")
        assert code == 0 and json.loads(out)[0]["name"] == real
        asked = f"{probe}{tag}"
        code, out = cli("info", asked, "--json")
        if asked == real:
            assert code == 0 and json.loads(out)[0]["name"] == real
        else:
            assert code == 2 and "no index named" in out
        code, out = cli("drop", real, "--force")
        assert code == 0, out
        # checked by FT.INFO, not FT._LIST: search 2.10.5 lists a carriage return in a name as "\\r"
        with pytest.raises(redis.ResponseError, match="Unknown index"):
            client.execute_command("FT.INFO", real)
        assert client.execute_command("FT.INFO", other)
    finally:
        for n in (real, other):
            with contextlib.suppress(redis.ResponseError):
                client.execute_command("FT.DROPINDEX", n)


def test_a_name_ft_list_garbles_is_listed_as_unreadable(
    redis_url: str, client: redis.Redis, capsys: pytest.CaptureFixture[str], unique_name: str
) -> None:
    name = unique_name + "\r"  # FT._LIST shows it as unique_name + "\\r", which FT.INFO does not know
    client.execute_command("FT.CREATE", name, "ON", "HASH", "PREFIX", "1", name + ":", "SCHEMA", "f", "TAG")
    try:
        parsed = build_parser().parse_args(["index", "--json", "--url", redis_url, "list"])
        assert parsed.handler(parsed) == 0
        listed = {d["name"]: d["kind"] for d in json.loads(capsys.readouterr().out)}
        assert listed[unique_name + "\\r"].startswith("unreadable")
        parsed = build_parser().parse_args(["index", "--force", "--url", redis_url, "drop", "--", name])
        assert parsed.handler(parsed) == 0 and "dropped index" in capsys.readouterr().out
    finally:
        with contextlib.suppress(redis.ResponseError):
            client.execute_command("FT.DROPINDEX", name)
