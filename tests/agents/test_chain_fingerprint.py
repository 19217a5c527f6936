"""The identity of what a chain or a RAG middleware retrieves (``langchain/fingerprint.py``) is the same for the
same configuration and differs for any other: wherever the retriever sits in the chain, whatever filter object it
holds. A shared identity means a shared cached answer, so "differs" is the property that keeps answers right."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.runnables import RunnableBranch, RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from redisvl.query.filter import Tag

from redis_rag_integrations.langchain.fingerprint import retriever_identities, stable_repr

WRAPPERS = ["sequence", "parallel", "fallbacks", "branch", "closure", "binding"]


def _store(name: str) -> InMemoryVectorStore:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=4))
    store.collection_name = name  # type: ignore[attr-defined]  # what names a third-party store
    return store


def _wrapped(retriever: Any, wrappers: list[str]) -> Any:
    chain = retriever
    for how in wrappers:
        if how == "sequence":
            chain = RunnablePassthrough() | chain
        elif how == "parallel":
            chain = {"context": chain, "question": RunnablePassthrough()}
            chain = RunnablePassthrough() | chain
        elif how == "fallbacks":
            chain = RunnablePassthrough().with_fallbacks([chain])
        elif how == "branch":
            chain = RunnableBranch((lambda x: False, RunnablePassthrough()), chain)
        elif how == "closure":
            inner = chain
            chain = RunnableLambda(lambda q, inner=inner: inner.invoke(q))
        else:
            chain = chain.with_config(tags=["t"])
    return chain


@settings(max_examples=200, deadline=None)
@given(
    wrappers=st.lists(st.sampled_from(WRAPPERS), max_size=4),
    names=st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["a", "b"])),
    filters=st.tuples(st.sampled_from(["x", "y", "x y"]), st.sampled_from(["x", "y", "x y"])),
)
def test_retrievers_are_found_anywhere_and_named_by_store_and_filter(
    wrappers: list[str], names: tuple[str, str], filters: tuple[str, str]
) -> None:
    def build(name: str, value: str) -> Any:
        retriever = _store(name).as_retriever(search_kwargs={"k": 2, "filter": Tag("tenant") == value})
        return _wrapped(retriever, wrappers)

    first, second = (retriever_identities(build(n, f)) for n, f in zip(names, filters, strict=True))
    assert len(first) == 1  # found, wherever it sits
    assert (first == second) == (names[0] == names[1] and filters[0] == filters[1])


@settings(max_examples=300, deadline=None)
@given(a=st.text(max_size=12), b=st.text(max_size=12))
def test_filter_expressions_are_written_by_what_they_select(a: str, b: str) -> None:
    assert (stable_repr(Tag("f") == a) == stable_repr(Tag("f") == b)) == (str(Tag("f") == a) == str(Tag("f") == b))
    assert "0x" not in stable_repr({"filter": Tag("f") == a, "k": 3})


def test_an_object_without_an_exact_form_is_never_written_like_another() -> None:
    class Opaque:
        pass

    one, two = Opaque(), Opaque()
    assert stable_repr(one) != stable_repr(two)
    assert stable_repr(one) == stable_repr(one)
