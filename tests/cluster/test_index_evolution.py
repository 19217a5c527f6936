"""Index evolution and ``redis-rag index`` on the live 3+3 cluster: a field added to tenants' indexes on three shards
(FT.ALTER on each index's node, the old records backfilled there) filters exactly; ``index list`` reaches every
primary, ``info`` / ``drop`` the index's node."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from cluster_ops import tenants_on_distinct_shards
from redis.cluster import RedisCluster

from redis_rag_integrations import Settings
from redis_rag_integrations.cli import build_parser
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.tenant_admin import drop_tenant

pytestmark = pytest.mark.cluster


def test_a_field_added_on_every_shard_finds_old_records_and_the_cli_sees_them(
    search_cluster, cluster_settings: Settings, raw_cluster: RedisCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = tenants_on_distinct_shards(search_cluster, 3, f"evo{uuid.uuid4().hex[:6]}")
    rng = np.random.default_rng(1)
    made = []
    try:
        for t in tenants:
            idx = RedisVectorIndex("docs", dims=4, settings=cluster_settings, tenant=t.name)
            made.append(idx)
            idx.upsert([Record(f"r{i}", "x", rng.random(4).astype(np.float32), metadata={"team": f"t{i % 3}"})
                        for i in range(30)])  # fmt: skip
        for t in tenants:
            grown = RedisVectorIndex("docs", dims=4, metadata_fields={"team": "tag"}, settings=cluster_settings,
                                     tenant=t.name)  # fmt: skip
            assert {r.id for r in grown.find({"team": "t1"}, limit=100)} == {f"r{i}" for i in range(1, 30, 3)}

        def cli(*args: str) -> tuple[int, str]:
            parsed = build_parser().parse_args(["index", *args])
            return parsed.handler(parsed), capsys.readouterr().out

        code, out = cli("--json", "--url", search_cluster.url, "list")
        listed = {d["name"]: d for d in json.loads(out)}
        for idx in made:
            assert listed[idx.name]["kind"] == "native vector store" and listed[idx.name]["docs"] == 30
            assert listed[idx.name]["fields"]["team"] == "tag"
        code, out = cli("--url", search_cluster.url, "drop", "--", made[0].name)
        assert code == 0 and "records kept" in out
        assert raw_cluster.exists(made[0].layout.key("r0")) == 1
        assert made[0].name not in {n for n, _ in _lists(raw_cluster)}
    finally:
        for t in tenants:
            drop_tenant(t.name, raw_cluster)


def _lists(client: RedisCluster) -> list[tuple[str, str]]:
    return [(n.decode(), node.name) for node in client.get_primaries()
            for n in client.execute_command("FT._LIST", target_nodes=node)]  # fmt: skip
