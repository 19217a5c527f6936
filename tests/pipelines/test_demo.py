"""The README's demo, run whole against the test Redis and the bundled local LLM: it must show what the issue asks.

The demo returns a :class:`~redis_rag_integrations.demo.DemoSummary`, so these tests check what happened (a cache
hit on the paraphrase, sources, the follow-up using the history, both frameworks answering) rather than scraping
the console. Answer quality is not asserted: the bundled model is 135M parameters, and the demo is about plumbing.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
from rich.console import Console

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.demo import DemoConfig, DemoSummary, main, parse_args, run
from redis_rag_integrations.demo import corpus as demo_corpus
from redis_rag_integrations.errors import RedisRagError
from redis_rag_integrations.langchain import RedisChatMessageHistory
from redis_rag_integrations.llm import local_model_path
from redis_rag_integrations.server import free_port

# The demo shows our history under RunnableWithMessageHistory on purpose (its main() hides LangChain's notice that it
# is deprecated); these tests call run() directly, so only that notice is filtered here.
pytestmark = pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated:DeprecationWarning")

HTML = "python3.11-doc HTML"  # the installed docs; without them the demo falls back to pydoc_data.topics


def _local_llm_installed() -> bool:
    try:
        local_model_path()
    except RedisRagError:
        return False
    return importlib.util.find_spec("llama_cpp") is not None


@pytest.fixture(scope="module")
def demo_run(redis_url: str, local_embedder) -> Iterator[tuple[DemoConfig, DemoSummary, str]]:
    """One whole demo run (it takes minutes on two cores), shared by the assertions below; cleaned up after."""
    if not _local_llm_installed():
        if os.environ.get("CI"):
            pytest.fail("the local LLM (llama-cpp-python + SmolLM2 GGUF) is missing: scripts/setup-venv.sh failed?")
        pytest.skip("the demo needs the [llm] extra and the model file (make venv)")
    config, _ = parse_args(["--index", "test-demo", "--max-tokens", "24"])
    config.session_id = "test-demo-session"
    config.settings = Settings(redis_url=redis_url, openai_api_key=None, openai_base_url=None)  # the local LLM
    output = io.StringIO()
    summary = run(config, console=Console(file=output, width=120))
    yield config, summary, output.getvalue()
    client = redis.Redis.from_url(redis_url)
    client.ft(config.index).dropindex(delete_documents=True)
    client.close()
    SemanticCache(local_embedder, name=config.cache_name, redis_url=redis_url).delete_index()
    RedisChatMessageHistory(config.session_id, redis_url=redis_url).clear()


def test_demo_ingests_through_both_frameworks_into_one_index(demo_run) -> None:
    _, summary, printed = demo_run
    ingest = summary.ingest
    assert ingest.langchain_chunks > 0 and ingest.llama_index_chunks > 0
    assert ingest.documents_in_index == ingest.langchain_chunks + ingest.llama_index_chunks
    assert summary.llm.kind == "local"
    assert f"{ingest.langchain_chunks}/{ingest.langchain_chunks} chunks" in printed  # the progress bar finished


def test_both_frameworks_answer_with_sources_and_timings(demo_run) -> None:
    config, summary, _ = demo_run
    generated = [r for r in (*summary.langchain, *summary.llama_index) if not r.cache_hit]
    assert [r.question for r in generated] == [*config.langchain_questions, *config.llama_index_questions]
    for report in generated:
        assert report.sources and all(s.page and s.title and s.id for s in report.sources)
        assert report.retrieve_ms is not None and report.generate_ms is not None
        assert report.cache_lookup_ms is not None
    assert all(r.first_token_ms is not None for r in summary.langchain if not r.cache_hit)  # it streamed
    if summary.ingest.corpus == HTML:  # one index: LangChain answered from the tutorial pages LlamaIndex ingested
        assert {s.ingested_with for s in summary.langchain[0].sources} == {"LlamaIndex"}


@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
def test_paraphrase_is_answered_from_the_question_cache(demo_run, framework: str) -> None:
    config, summary, _ = demo_run
    reports = getattr(summary, framework)
    first, paraphrase = reports[0], reports[-1]
    assert paraphrase.question == getattr(config, f"{framework}_paraphrase") != first.question
    assert paraphrase.cache_hit and not first.cache_hit
    assert paraphrase.cached_question == first.question
    assert paraphrase.answer == first.answer and [s.id for s in paraphrase.sources] == [s.id for s in first.sources]
    assert paraphrase.retrieve_ms is None and paraphrase.generate_ms is None  # neither ran
    assert paraphrase.saved_ms is not None


def test_follow_up_uses_the_history_in_redis(demo_run, redis_url: str) -> None:
    config, summary, _ = demo_run
    chat = summary.conversation
    assert chat is not None and [t.question for t in chat.turns] == list(config.conversation)
    assert chat.history_seen == [0, 2]  # the follow-up got the first turn from Redis
    assert chat.search_queries[1] == f"{config.conversation[0]} {config.conversation[1]}"
    follow_up = chat.turns[1]
    if summary.ingest.corpus == HTML:  # the page about files, found thanks to turn one
        assert follow_up.sources[0].page == "tutorial/inputoutput.html"
    assert [s.id for s in follow_up.sources] != [s.id for s in chat.sources_without_history]
    stored = RedisChatMessageHistory(config.session_id, redis_url=redis_url).messages
    assert chat.stored_messages == len(stored) == 4
    assert [m.content for m in stored[::2]] == list(config.conversation)
    assert [m.content for m in stored[1::2]] == [t.answer for t in chat.turns]


def test_summary_serializes_for_the_command_line(demo_run, tmp_path) -> None:
    _, summary, _ = demo_run
    path = tmp_path / "summary.json"
    summary.write_json(path)
    assert '"cache_hit": true' in path.read_text()


# ------------------------------------------------------------------------------------------ cheap checks
def test_fallback_corpus_pages_exist_without_the_html_docs(tmp_path) -> None:
    plan = demo_corpus.plan_corpus(root=tmp_path)  # no HTML there: the stdlib's topics
    assert plan.corpus == "pydoc_data.topics"
    assert [d["id"] for d in plan.langchain_pages] == list(demo_corpus.TOPIC_PAGES.langchain)
    assert [d["id"] for d in plan.llama_index_pages] == list(demo_corpus.TOPIC_PAGES.llama_index)


def test_unknown_page_is_a_clear_error() -> None:
    choice = demo_corpus.PageChoice(langchain=("faq/nope.html",), llama_index=("tutorial/nope.html",))
    with pytest.raises(ValueError, match=r"pages not found in .*: faq/nope\.html, tutorial/nope\.html"):
        demo_corpus.plan_corpus(choice, choice)


def test_unreachable_llm_ends_the_demo_with_a_clear_message(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    from redis_rag_integrations.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["--index", "test-demo-unreachable"]) == 2
    finally:
        get_settings.cache_clear()
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "LLMUnavailableError" in printed and url in printed and "OPENAI_BASE_URL" in printed


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--k", "0"])


def test_module_entry_point_is_wired() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations.demo", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "OPENAI_BASE_URL" in done.stdout
