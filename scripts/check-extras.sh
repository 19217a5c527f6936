#!/usr/bin/env bash
# Prove the install matrix the README promises, in fresh venvs under a temporary directory (removed at exit):
#   (a) `.[langchain,embedded]`   : LlamaIndex absent, tests/extras/test_langchain_only.py passes;
#   (b) `.[llama-index,embedded]` : LangChain absent, tests/extras/test_llama_index_only.py passes;
#   (c) the same two installs with every lower bound of pyproject.toml installed exactly (constraints generated from
#       pyproject.toml, so a floor cannot drift from what is tested): both modules pass again.
# No torch anywhere: the modules use the frameworks' own fake embedders and LLMs, and each venv checks that torch,
# sentence-transformers and the other framework are not installed. pip's cache makes reruns cheap.
# Run by `make test` (and `make check-extras`); each step prints its install and test times.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-extras.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
TEST_DEPS=("pytest>=8" "pytest-asyncio>=0.24" "pytest-timeout>=2.3" "hypothesis>=6.100")
LOG=$WORK/pip.log
START=$SECONDS

pip_install() {  # pip_install VENV ARGS...: quiet, but pip's own output when it fails
  local venv=$1
  shift
  if ! "$venv/bin/python" -m pip install --quiet "$@" >"$LOG" 2>&1; then
    grep -v "is ignored" "$LOG" >&2
    echo "error: pip install failed in $venv" >&2
    exit 1
  fi
}

absent() {  # absent VENV MODULE...: fail if any MODULE is importable in VENV (run outside the repo: no source tree)
  local venv=$1
  shift
  (cd "$WORK" && "$venv/bin/python" - "$@" <<'PY'
import importlib.util, sys
present = [name for name in sys.argv[1:] if importlib.util.find_spec(name) is not None]
if present:
    sys.exit(f"installed but must not be: {', '.join(present)}")
PY
  )
}

refuses() {  # refuses VENV PACKAGE EXTRA: importing PACKAGE fails and names the extra to install
  local venv=$1 package=$2 extra=$3 out
  if out=$(cd "$WORK" && "$venv/bin/python" -c "import $package" 2>&1); then
    echo "error: 'import $package' worked in $venv without its framework" >&2
    exit 1
  fi
  if ! grep -qF "redis-rag-integrations[$extra]" <<<"$out"; then
    echo "error: 'import $package' failed without naming the extra [$extra]:" >&2
    echo "$out" >&2
    exit 1
  fi
}

run_tests() {  # run_tests VENV TEST...: the venv's own pytest script, so the installed wheel is what is tested
  local venv=$1
  shift
  (cd "$ROOT" && "$venv/bin/pytest" -q -p no:cacheprovider "$@")
}

step() {  # step NAME EXTRAS TESTS [pip args...]: build a venv, check it, run TESTS; print the timings
  local name=$1 extras=$2 tests=$3
  shift 3
  local venv=$WORK/$name t0=$SECONDS t1
  echo "check-extras: $name: pip install .[$extras]..."
  "$PY" -m venv "$venv"
  pip_install "$venv" "$WHEEL[$extras]" "${TEST_DEPS[@]}" "$@"
  t1=$SECONDS
  absent "$venv" torch sentence_transformers langchain_redis
  # One command per line: `set -e` ignores a failure on the left of `&&`.
  case $extras in
    langchain,*)
      absent "$venv" llama_index
      refuses "$venv" redis_rag_integrations.llama_index llama-index
      ;;
    llama-index,*)
      absent "$venv" langchain_core
      refuses "$venv" redis_rag_integrations.langchain langchain
      ;;
  esac
  # shellcheck disable=SC2086  # TESTS is a list of paths
  run_tests "$venv" $tests
  echo "check-extras: $name: install $((t1 - t0)) s, tests $((SECONDS - t1)) s"
}

# One wheel of the project for every venv (built once, like a user's `pip install` from PyPI would get it).
"$PY" -m venv "$WORK/build"
if ! "$WORK/build/bin/python" -m pip wheel --quiet --no-deps "$ROOT" -w "$WORK/dist" >"$LOG" 2>&1; then
  grep -v "is ignored" "$LOG" >&2
  exit 1
fi
WHEEL=$(ls "$WORK"/dist/redis_rag_integrations-*.whl)

step langchain-only "langchain,embedded" "tests/extras/test_langchain_only.py tests/test_optional_frameworks.py"
step llama-index-only "llama-index,embedded" "tests/extras/test_llama_index_only.py tests/test_optional_frameworks.py"

# Every `>=X` of the base dependencies and of the extras installed here becomes `==X`.
"$PY" - "$ROOT/pyproject.toml" >"$WORK/floors.txt" <<'PY'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project["optional-dependencies"]
for req in project["dependencies"] + extras["langchain"] + extras["llama-index"] + extras["embedded"]:
    name, spec = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*(.*)", req).groups()
    floor = re.search(r">=\s*([^,;\s]+)", spec)
    if floor and name != "redis-rag-integrations":
        print(f"{name}=={floor.group(1)}")
PY
echo "check-extras: floors: $(tr '\n' ' ' <"$WORK/floors.txt")"
step langchain-floors "langchain,embedded" "tests/extras/test_langchain_only.py tests/extras/test_connect_timeouts.py" --constraint "$WORK/floors.txt"
# pydantic stays free here: LlamaIndex's own tree needs more than our floor (llama-index-workflows 2.x asks for
# pydantic>=2.11.5), and pinned lower, pip backtracks through hundreds of releases for many minutes.
grep -v '^pydantic==' "$WORK/floors.txt" >"$WORK/floors-llama-index.txt"
step llama-index-floors "llama-index,embedded" "tests/extras/test_llama_index_only.py tests/extras/test_connect_timeouts.py" \
  --constraint "$WORK/floors-llama-index.txt"

echo "check-extras: all four venvs passed in $((SECONDS - START)) s"
