"""EmbeddedRedis(search_args=...): load arguments reach the search module; anything else is refused up front.

Why: the doc table of the search module grows with the largest doc id up to MAXDOCTABLESIZE slots (a load-time
setting; ``benchmarks/results/load-soak.md``), and the soak runs a server with a small cap to show that bound.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.failures import server_url


def test_search_args_reach_the_module() -> None:
    with EmbeddedRedis(search_args=["MAXDOCTABLESIZE", "5000"], appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        assert client.execute_command("FT.CONFIG", "GET", "MAXDOCTABLESIZE") in (
            {b"MAXDOCTABLESIZE": b"5000"},
            [[b"MAXDOCTABLESIZE", b"5000"]],
        )
        client.close()


@given(st.lists(st.text(max_size=12), max_size=4))
@settings(max_examples=200, deadline=None)
def test_search_args_are_single_words_or_refused(args: list[str]) -> None:
    """A word with whitespace would be split by redis-server (an argument the caller never wrote), one starting
    with ``--`` would end the module's line: exact, or a clear refusal."""
    bad = any(not a or any(c.isspace() for c in a) or a.startswith("--") for a in args)
    if bad:
        with pytest.raises(ValueError, match="search_args"):
            EmbeddedRedis(search_args=args)
    else:
        assert EmbeddedRedis(search_args=args).search_args == args


@given(
    user=st.text(max_size=10),
    password=st.text(min_size=1, max_size=20),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    port=st.integers(1, 65535),
    db=st.integers(0, 15),
)
@settings(max_examples=200, deadline=None)
def test_timeout_messages_never_show_the_password(user: str, password: str, host: str, port: int, db: int) -> None:
    """The URL a timeout names is built from the connection's fields: the password is always ``***``."""
    shown = server_url({"host": host, "port": port, "db": db, "username": user, "password": password})
    assert shown == f"redis://{user}:***@{host}:{port}/{db}"
