"""LangChain and LlamaIndex are optional: the cores never import them (nor torch), and each adapter package, imported
without its framework, fails at once with the install command.

Each check runs in a fresh interpreter whose import system refuses the frameworks (a meta-path finder that raises),
so it proves the rule even in the dev venv where every framework is installed.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "redis_rag_integrations"
# The framework adapters and the demo (an application of both frameworks) are the only places allowed to import them.
FRAMEWORK_PACKAGES = ("langchain", "llama_index", "demo")
# The frameworks, and what would make a plain `import` slow or heavy (the local embedder loads torch on first use).
BLOCKED = (
    "langchain",
    "langchain_core",
    "langchain_text_splitters",
    "langchain_openai",
    "langgraph",
    "llama_index",
    "torch",
    "sentence_transformers",
    "transformers",
    "onnxruntime",
    "openai",
)

_BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked by the test: {name}")
        return None

sys.meta_path.insert(0, Refuse())
"""


def core_modules() -> list[str]:
    """Every module of the package outside the framework adapters, from the files (importing finds nothing new)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if (len(parts) > 1 and parts[1] in FRAMEWORK_PACKAGES) or parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def run_blocked(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKER + body, ",".join(BLOCKED), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parent,
    )


def test_core_modules_are_found() -> None:
    names = core_modules()
    assert {"redis_rag_integrations", "redis_rag_integrations.store.index", "redis_rag_integrations.cli"} <= set(names)
    assert not any(
        n.startswith(("redis_rag_integrations.langchain", "redis_rag_integrations.llama_index")) for n in names
    )


def test_cores_import_without_frameworks_or_torch() -> None:
    body = """
import importlib, json
failed = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({"failed": failed, "loaded": loaded}))
"""
    names = core_modules()
    proc = run_blocked(body, *names)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"failed": {}, "loaded": []}


@pytest.mark.parametrize(
    ("package", "extra"),
    [("redis_rag_integrations.langchain", "langchain"), ("redis_rag_integrations.llama_index", "llama-index")],
)
def test_adapter_without_its_framework_names_the_extra(package: str, extra: str) -> None:
    body = """
try:
    __import__(sys.argv[2])
except ImportError as exc:
    print(exc)
else:
    print("imported")
"""
    proc = run_blocked(body, package)
    assert proc.returncode == 0, proc.stderr
    assert f"pip install 'redis-rag-integrations[{extra}]'" in proc.stdout


def test_splitter_without_its_framework_names_the_extra() -> None:
    body = """
from redis_rag_integrations.ingest import make_splitter
for kind in ("langchain", "llama_index"):
    try:
        make_splitter(kind)
    except ImportError as exc:
        print(exc)
"""
    proc = run_blocked(body)
    assert proc.returncode == 0, proc.stderr
    assert "redis-rag-integrations[langchain]" in proc.stdout
    assert "redis-rag-integrations[llama-index]" in proc.stdout
