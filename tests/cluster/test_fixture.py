"""The cluster fixture itself: the 3+3 layout with modules is what the group relies on, and a cluster with replicas
and modules never leaves a node behind, whether its owner stops it or is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cluster_ops import node_client, replica_of

pytestmark = pytest.mark.cluster

TESTS_DIR = Path(__file__).resolve().parents[1]


def test_three_primaries_three_replicas_with_the_search_module(search_cluster) -> None:
    primaries = [n for n in search_cluster.nodes if node_client(n.port).execute_command("ROLE")[0] == b"master"]
    assert len(primaries) == 3 and len(search_cluster.nodes) == 6
    for node in primaries:
        assert replica_of(search_cluster, node.port) != node.port  # each primary has a linked replica
    for node in search_cluster.nodes:
        modules = {m[b"name"] for m in node_client(node.port).module_list()}
        assert {b"search", b"ReJSON"} <= modules
        assert node_client(node.port).config_get("bind")["bind"] == "127.0.0.1"  # loopback only


@pytest.mark.parametrize("how", ["stop", "sigkill"])
@pytest.mark.parametrize("shape", ["primaries=2", "primaries=1, replicas=1, modules=True"])
def test_cluster_nodes_never_outlive_their_owner(shape: str, how: str, processes) -> None:
    """Plain primaries (what the history tests use) and a replica with modules (the search group) alike."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from cluster import LocalRedisCluster
        cluster = LocalRedisCluster({shape}).start()
        print(" ".join(map(str, cluster.pids)), flush=True)
        if {how!r} == "stop":
            cluster.stop()
            print("stopped", flush=True)
        time.sleep(60)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 2
        if how == "stop":
            assert child.stdout.readline().strip() == "stopped"
        else:
            assert all(processes.alive(p) for p in pids)
            child.kill()
            child.wait(timeout=10)
        for pid in pids:
            assert processes.wait_dead(pid, timeout=15), f"cluster node {pid} outlived its owner ({how})"
    finally:
        child.kill()
        child.wait(timeout=10)
