"""LangChain's own serialisation of core objects (messages, generations, documents), for what the caches store.

``langchain_core.load.loads`` is marked beta and warns on every call; its format is what LangChain itself persists,
so the caches use it and keep that one understood warning out of their users' logs, here and nowhere else.
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langchain_core.load import loads


def load_core(payload: str) -> Any:
    """The LangChain core objects in ``payload`` (``dumps`` / ``dumpd`` output); other classes are refused."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)
        return loads(payload, allowed_objects="core")
