#!/usr/bin/env bash
# Create .venv-legacy: llama-index-vector-stores-redis 0.9 (which pins redisvl<0.5) in a venv of its own, so the
# tests can write an index with it and prove that our store reads it (tests/store/test_legacy_layouts.py).
# No torch: the writer (scripts/legacy/write_llamaindex_legacy.py) stores nodes with precomputed embeddings.
# Idempotent: pip runs again only when this script changed since the last successful install (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv-legacy
STAMP=$VENV/.installed
want=$(sha256sum scripts/setup-legacy-venv.sh | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
rm -f "$STAMP"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "setting up $VENV (llama-index-vector-stores-redis 0.9, about a minute)..."
# Pinned so pip cannot backtrack to ancient releases (ENVIRONMENT.md: unconstrained it picks vs-redis 0.1.2).
if ! "$VENV/bin/python" -m pip install --quiet "llama-index-vector-stores-redis==0.9.0" "llama-index-core>=0.13,<0.15" \
  "numpy<3"; then
  echo "error: pip failed to install the legacy LlamaIndex Redis store into $VENV" >&2
  exit 1
fi
"$VENV/bin/python" -c "import llama_index.vector_stores.redis, redisvl; print('legacy venv: redisvl', redisvl.__version__)"
echo "$want" >"$STAMP"
