"""Write nodes with ``llama-index-vector-stores-redis`` 0.9 in its default layout (run inside ``.venv-legacy``).

Usage: ``.venv-legacy/bin/python scripts/legacy/write_llamaindex_legacy.py REDIS_URL INDEX_NAME < nodes.json``
where nodes.json is ``[{"id", "text", "metadata", "doc_id", "embedding"}, ...]``. The schema is the package's
default ``RedisVectorStoreSchema`` (fields, ``{name}/vector`` prefix style, ``_`` key separator, FLAT cosine)
with only the vector dims set from the embeddings, since the default 1536 would not fit a local model.
"""

from __future__ import annotations

import json
import sys

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.redis import RedisVectorStore
from llama_index.vector_stores.redis.schema import RedisVectorStoreSchema
from redisvl.schema import IndexSchema


def main() -> None:
    url, name = sys.argv[1], sys.argv[2]
    rows = json.load(sys.stdin)
    schema = RedisVectorStoreSchema().to_dict()
    schema["index"]["name"] = name
    schema["index"]["prefix"] = f"{name}/vector"
    for field in schema["fields"]:
        if field["name"] == "vector":
            field["attrs"]["dims"] = len(rows[0]["embedding"])
    store = RedisVectorStore(schema=IndexSchema.from_dict(schema), redis_url=url, overwrite=True)
    nodes = [
        TextNode(
            id_=r["id"],
            text=r["text"],
            metadata=r["metadata"],
            embedding=r["embedding"],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=r["doc_id"])},
        )
        for r in rows
    ]
    print(json.dumps(store.add(nodes)))


if __name__ == "__main__":
    main()
