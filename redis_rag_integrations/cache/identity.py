"""What makes two LLM calls "the same call" for a cache: an exact, canonical identity of a model and its arguments.

Why this module exists: a cache that drops an argument it cannot represent serves one call's answer to another --
``complete(p, stop=["\\n"])`` answered with the text stored by ``complete(p)``, or ``max_tokens`` ignored because
its name contains "token". So every value that can change an answer is either turned into canonical JSON or
refused with :class:`UncacheableCall`, which the adapters turn into a pass-through: a call the cache cannot
identify exactly is never cached, never matched approximately.

Canonical means: equal values give equal text whatever the dict order, and values that may mean different things
never give equal text -- ``1``, ``1.0``, ``True`` and ``"1"`` stay apart, a tuple is not a list, a pydantic model
is its class plus its fields, a class used as a schema is its name plus its JSON schema. Plain values keep their
plain JSON form (so scopes such as ``{"rag": "faq-v2"}`` hash as they always did); anything else is a one-key
object whose key starts with ``$``, and a caller's own dict with such a key is wrapped, so no two values collide.

Secrets are left out by EXACT name from a closed list (:data:`SECRET_NAMES`): rotating an API key must not empty
the cache, and a password must not be hashed into Redis where a dictionary attack could recover it. Runtime
plumbing that cannot change an answer (callback managers, HTTP clients, timeouts, retry counts:
:data:`RUNTIME_NAMES`) is left out the same way. Nothing is left out by substring: ``max_tokens`` is not a secret.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any

from .guard import CacheInputError

logger = logging.getLogger("redis_rag_integrations.cache")

#: Argument / field / header names whose values are credentials (compared case-insensitively, whole name only).
SECRET_NAMES = frozenset(
    {
        "api_key",
        "api_token",
        "access_token",
        "auth_token",
        "bearer_token",
        "password",
        "secret",
        "secret_key",
        "client_secret",
        "private_key",
        "openai_api_key",
        "anthropic_api_key",
        "azure_ad_token",
        "azure_ad_token_provider",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
    }
)
#: Names of plumbing that cannot change an answer (and usually has no canonical form): left out of identities.
RUNTIME_NAMES = frozenset(
    {
        "callback_manager",
        "callbacks",
        "http_client",
        "async_http_client",
        "timeout",
        "request_timeout",
        "max_retries",
        "reuse_client",
        "verbose",
    }
)
EXCLUDED_NAMES = SECRET_NAMES | RUNTIME_NAMES
_MAX_DEPTH = 40

#: A framework hook: ``(tag, plain value)`` for an object it knows (a tool: its name and schema), else ``None``.
Converter = Callable[[Any], tuple[str, Any] | None]


class UncacheableCall(CacheInputError):
    """An argument has no exact canonical form, so the call cannot be identified: it bypasses the cache."""


def excluded(name: str) -> bool:
    """True when ``name`` is a secret or runtime plumbing (exact, case-insensitive match on the whole name)."""
    return name.lower() in EXCLUDED_NAMES


def identity_json(value: Any, convert: Converter | None = None) -> str:
    """The canonical JSON text of ``value``; :class:`UncacheableCall` when some part has no exact form."""
    if convert is None and _plain(value, 0):
        # Nothing to convert: the canonical form is the value itself, so the C encoder writes the same text the
        # walk below would, without it (an agent model call's key over a 40-message thread: 1 ms -> 0.1 ms).
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return json.dumps(_canonical(value, convert, "$", 0), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError as exc:
        raise UncacheableCall("argument nests too deeply to be identified") from exc


def _plain(value: Any, depth: int) -> bool:
    """True when ``value`` is its own canonical form (:func:`_canonical` would return it unchanged): exact ``str``,
    ``int``, ``bool``, ``None``, finite ``float``, and exact lists and dicts of those whose keys are ``str``, do not
    start with ``$`` and are not left out (:func:`excluded`), within the depth limit. Anything else takes the walk."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return kind is not float or math.isfinite(value)
    if depth >= _MAX_DEPTH:
        return False
    if kind is list:
        return all(type(item) in _PLAIN_TEXT or _plain(item, depth + 1) for item in value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or key[:1] == "$" or excluded(key):
                return False
            if not (type(item) in _PLAIN_TEXT or _plain(item, depth + 1)):
                return False
        return True
    return False


#: Types whose exact instances are their own canonical form (floats only when finite).
_PLAIN_SCALARS = frozenset({str, int, bool, float, type(None)})
_PLAIN_TEXT = frozenset({str, int, bool, type(None)})


def _canonical(value: Any, convert: Converter | None, path: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise UncacheableCall(f"{path}: nested more than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):  # before str / int: a str-valued enum member is not the plain string
        return {"$enum": f"{_qualified(type(value))}.{value.name}"}
    if type(value) in (str, int):
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise UncacheableCall(f"{path}: {value!r} is not a finite number")
        return value
    if convert is not None and (converted := convert(value)) is not None:
        tag, plain = converted
        return {f"${tag}": _canonical(plain, convert, path, depth + 1)}
    return _structured(value, convert, path, depth)


def _structured(value: Any, convert: Converter | None, path: str, depth: int) -> Any:
    """Containers, models, schemas, functions; anything else is refused (never reduced to its ``repr``)."""
    nested = depth + 1
    if isinstance(value, Mapping):
        body = _mapping(value, convert, path, nested)
        return {"$dict": body} if any(k.startswith("$") for k in body) else body
    if type(value) is list:
        return [_canonical(v, convert, f"{path}[{i}]", nested) for i, v in enumerate(value)]
    if type(value) is tuple:
        return {"$tuple": [_canonical(v, convert, f"{path}[{i}]", nested) for i, v in enumerate(value)]}
    if isinstance(value, set | frozenset):
        items = [json.dumps(_canonical(v, convert, f"{path}{{}}", nested), sort_keys=True) for v in value]
        return {"$set": sorted(items)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if type(value).__name__ in ("SecretStr", "SecretBytes"):  # pydantic secrets: presence, never the value
        return {"$secret": None}
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        if callable(schema):  # a pydantic model class used as an output schema: its name and its schema
            return {"$schema": [_qualified(value), _canonical(schema(), convert, path, nested)]}
        return {"$type": _qualified(value)}
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, Mapping):  # a pydantic model instance: its class and fields (secrets left out)
        body = {name: getattr(value, name, None) for name in fields}
        return {"$model": [_qualified(type(value)), _mapping(body, convert, path, nested)]}
    if dataclasses.is_dataclass(value):
        body = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"$dataclass": [_qualified(type(value)), _mapping(body, convert, path, nested)]}
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType):
        name = _qualified(value)
        bound = getattr(value, "__self__", None)
        if "<" in name or not (bound is None or isinstance(bound, types.ModuleType)):
            # a lambda, a nested function or a bound method: the name says nothing about what it does
            raise UncacheableCall(f"{path}: {name} is a lambda, local function or bound method (no stable identity)")
        return {"$function": name}
    raise UncacheableCall(f"{path}: a {_qualified(type(value))} value has no canonical form")


def _mapping(value: Mapping[Any, Any], convert: Converter | None, path: str, depth: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise UncacheableCall(f"{path}: mapping key {key!r} is not a str (1 and '1' would collide)")
        if not excluded(key):
            body[key] = _canonical(item, convert, f"{path}.{key}", depth)
    return body


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None) or '?'}:{getattr(obj, '__qualname__', None) or type(obj).__name__}"


_warned: set[str] = set()
_warned_lock = threading.Lock()
_MAX_WARNED = 1024  # reasons name types and paths, not values; the bound only guards against pathological input


def log_bypass(owner: str, exc: UncacheableCall) -> None:
    """Say once per owner and reason (warning) that calls bypass the cache; later repeats go to debug."""
    reason = f"{owner}: {exc}"
    with _warned_lock:
        first = reason not in _warned
        if first and len(_warned) < _MAX_WARNED:
            _warned.add(reason)
    if first:
        logger.warning("%s: call not cached (%s); every such call bypasses the cache", owner, exc)
    else:
        logger.debug("%s: call not cached (%s)", owner, exc)
