#!/usr/bin/env bash
# Create .venv in the repo root and install the package with everything tests, demo and notebooks need.
# Idempotent: re-runs pip only when pyproject.toml (or this script) changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed
want=$(cat pyproject.toml scripts/setup-venv.sh | sha256sum | cut -d' ' -f1)

# The Python documentation (PSF license) is the demo / evaluation corpus. Best effort: without it (no root, not
# Debian) the code falls back to the stdlib's pydoc_data topics and the committed evaluation sets.
if [ ! -d /usr/share/doc/python3.11/html/faq ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq python3.11-doc >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq python3.11-doc >/dev/null 2>&1; }) ||
    echo "note: could not install python3.11-doc; using the fallback corpus" >&2
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
LOG=$(mktemp)
pip_install() {
  # pip's own failure must fail the script; only its noise about missing local index folders is filtered.
  if ! $PIP install --quiet "$@" >"$LOG" 2>&1; then
    grep -v "is ignored" "$LOG" >&2
    exit 1
  fi
}
echo "setting up $VENV (first run: a few minutes)..."
# torch first, pinned: the CPU wheel. Anything unpinned would pull several GB of CUDA packages.
pip_install torch==2.13.0
pip_install -e ".[dev]" torch==2.13.0
$PIP check
"$VENV/bin/python" -c "import redis_rag_integrations, torch, redisvl, langchain_core, llama_index.core"
echo "$want" > "$STAMP"
