"""One real local LLM server (llama-cpp-python + the bundled SmolLM2) for the model tests, never a mock."""

from __future__ import annotations

import importlib.util
import os

import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.errors import RedisRagError
from redis_rag_integrations.llm import LLMEndpoint, LocalLLMServer, local_model_path, shared_local_llm_server


def _local_llm_installed() -> bool:
    try:
        local_model_path()
    except RedisRagError:
        return False
    return importlib.util.find_spec("llama_cpp") is not None


LOCAL_LLM_INSTALLED = _local_llm_installed()


@pytest.fixture(scope="session")
def requires_local_llm() -> None:
    """Skip (with the fix in the reason) where the [llm] extra or the model package is missing."""
    if not LOCAL_LLM_INSTALLED:
        if os.environ.get("CI"):  # CI installs everything with make: a missing model there is a failure
            pytest.fail("the local LLM (llama-cpp-python + SmolLM2 GGUF) is missing: scripts/setup-venv.sh failed?")
        pytest.skip("the local LLM needs the [llm] extra and the model file (make venv)")


@pytest.fixture(scope="session")
def local_llm(requires_local_llm: None) -> LocalLLMServer:
    """The process-wide server, exactly what pipelines get when no key and no base URL are set."""
    return shared_local_llm_server()


@pytest.fixture(scope="session")
def local_endpoint(local_llm: LocalLLMServer) -> LLMEndpoint:
    return local_llm.endpoint(timeout=120)


@pytest.fixture
def no_remote_llm() -> Settings:
    """Settings with neither OPENAI_API_KEY nor OPENAI_BASE_URL, whatever the environment says."""
    return Settings(openai_api_key=None, openai_base_url=None)
