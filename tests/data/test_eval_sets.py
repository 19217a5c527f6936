"""The cache's evaluation sets (``data/cache_eval*.json``) are well formed, so a malformed pair fails here.

Why: the held-out figures of issue #15 are only as good as these files. A pair with a typo in its label, a look-alike
without a class, a duplicated pair (counted twice) or a cached question with no paraphrase or no look-alike would skew
precision / recall silently; the evaluation scripts trust the files. Sets F and G (written blind to the method, held
out only) also keep the shape they were written to: 60 cached questions, one or two paraphrases and one or two
look-alikes each, and no query that is itself another group's cached question.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from importlib import resources
from typing import Any

import pytest

from benchmarks import cache_eval, verifier_train

LABELS = {"paraphrase", "near_miss"}
#: Look-alike classes in use across the sets (F and G use the first ten).
KINDS = {
    "swap_direction",
    "negation",
    "antonym",
    "swap_object",
    "swap_verb",
    "swap_quantity",
    "list_tuple",
    "sync_async",
    "swap_attribute",
    "related_topic",
    "swap_order",
    "swap_role",
}
TOP_KEYS = {"description", "attribution", "license", "pairs"}
BLIND_SETS = {"F": "cache_eval_dataframes.json", "G": "cache_eval_sysadmin.json"}


def data_dir() -> Any:
    return resources.files("redis_rag_integrations").joinpath("data")


def all_set_files() -> list[str]:
    return sorted(p.name for p in data_dir().iterdir() if p.name.startswith("cache_eval") and p.name.endswith(".json"))


def problems(data: Any, strict: bool = False) -> list[str]:
    """Every way ``data`` departs from the evaluation-set format (empty when well formed)."""
    if not isinstance(data, dict) or set(data) != TOP_KEYS:
        return [f"top-level keys must be {sorted(TOP_KEYS)}"]
    out = [f"{key} must be a non-empty string" for key in TOP_KEYS - {"pairs"} if not _text(data[key])]
    pairs = data["pairs"]
    if not isinstance(pairs, list) or not pairs:
        return [*out, "pairs must be a non-empty list"]
    seen: Counter[tuple[str, str]] = Counter()
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for i, pair in enumerate(pairs):
        where = f"pair {i}"
        if not isinstance(pair, dict) or not {"cached", "query", "label"} <= set(pair):
            out.append(f"{where}: needs cached, query, label")
            continue
        if set(pair) - {"cached", "query", "label", "kind"}:
            out.append(f"{where}: unknown keys {sorted(set(pair) - {'cached', 'query', 'label', 'kind'})}")
        cached, query, label = pair["cached"], pair["query"], pair["label"]
        if not _text(cached) or not _text(query):
            out.append(f"{where}: cached and query must be non-empty strings without outer whitespace")
            continue
        if cached == query:
            out.append(f"{where}: query repeats the cached question")
        if label not in LABELS:
            out.append(f"{where}: label {label!r} not in {sorted(LABELS)}")
        elif label == "near_miss" and pair.get("kind") not in KINDS:
            out.append(f"{where}: near_miss kind {pair.get('kind')!r} not in the known classes")
        elif label == "paraphrase" and "kind" in pair:
            out.append(f"{where}: a paraphrase has no kind")
        seen[(cached, query)] += 1
        labels[cached][label] += 1
    out += [f"duplicate pair {key}" for key, n in seen.items() if n > 1]
    out += [f"{c!r} lacks a {lab}" for c, n in labels.items() for lab in sorted(LABELS) if not n[lab]]
    if strict:
        out += _strict_problems(pairs, labels)
    return out


def _strict_problems(pairs: list[dict[str, str]], labels: dict[str, Counter[str]]) -> list[str]:
    out = [] if len(labels) == 60 else [f"{len(labels)} cached questions, not 60"]
    out += [f"{c!r}: {n[lab]} x {lab}, not 1 or 2" for c, n in labels.items() for lab in LABELS if not 1 <= n[lab] <= 2]
    others = [p["query"] for p in pairs if p["query"] in labels and p["query"] != p["cached"]]
    out += [f"query {q!r} is another group's cached question" for q in others]
    return out


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and value == value.strip()


def load(name: str) -> Any:
    return json.loads(data_dir().joinpath(name).read_text())


@pytest.mark.parametrize("name", all_set_files())
def test_every_evaluation_set_is_well_formed(name: str) -> None:
    assert problems(load(name)) == []


@pytest.mark.parametrize("name", sorted(BLIND_SETS.values()))
def test_blind_sets_keep_their_shape(name: str) -> None:
    data = load(name)
    assert problems(data, strict=True) == []
    assert "held-out" in data["description"].lower() or "held out" in data["description"].lower()


def test_blind_sets_are_registered_and_g_stays_held_out() -> None:
    """Both were written as held-out sets; F became a tuning set after its first read (its description says so),
    G is still held out."""
    for key, file in BLIND_SETS.items():
        assert cache_eval.SETS[key][1] == file and verifier_train.SETS[key][1] == file
    assert "G" not in verifier_train.TUNING_SETS and cache_eval.TUNING_SET != "G"
    assert "F" in verifier_train.TUNING_SETS and "tuning set" in load(BLIND_SETS["F"])["description"]


def _broken(edit: Any) -> Any:
    data = load(BLIND_SETS["F"])
    edit(data)
    return data


def _first(data: Any, label: str) -> dict[str, str]:
    return next(p for p in data["pairs"] if p["label"] == label)


def _drop_paraphrases_of_first_group(data: Any) -> None:
    first = data["pairs"][0]["cached"]
    data["pairs"] = [p for p in data["pairs"] if not (p["cached"] == first and p["label"] == "paraphrase")]


#: One broken copy of set F per format rule; each must be reported by the checks every set gets.
MALFORMED = {
    "label typo": lambda d: _first(d, "paraphrase").update(label="paraphrse"),
    "unknown kind": lambda d: _first(d, "near_miss").update(kind="swap_something"),
    "near miss without kind": lambda d: _first(d, "near_miss").pop("kind"),
    "paraphrase with kind": lambda d: _first(d, "paraphrase").update(kind="negation"),
    "duplicate pair": lambda d: d["pairs"].append(dict(_first(d, "paraphrase"))),
    "blank query": lambda d: _first(d, "paraphrase").update(query=" "),
    "query equals cached": lambda d: _first(d, "paraphrase").update(query=d["pairs"][0]["cached"]),
    "missing key": lambda d: _first(d, "paraphrase").pop("cached"),
    "extra key": lambda d: _first(d, "paraphrase").update(note="x"),
    "no license": lambda d: d.pop("license"),
    "a group without a paraphrase": _drop_paraphrases_of_first_group,
}
#: Broken copies that only the blind sets' shape rules catch (the general checks pass them).
MISSHAPEN = {
    "a third near miss": lambda d: d["pairs"].append({**_first(d, "near_miss"), "query": "How do I do X instead?"}),
    "a 61st group": lambda d: d["pairs"].extend(
        [
            {"cached": "How do I do X?", "query": "How can I do X?", "label": "paraphrase"},
            {"cached": "How do I do X?", "query": "How do I undo X?", "label": "near_miss", "kind": "antonym"},
        ]
    ),
    "a query that is another group's cached question": lambda d: _first(d, "near_miss").update(
        query=d["pairs"][-1]["cached"]
    ),
}


@pytest.mark.parametrize("why", sorted(MALFORMED))
def test_a_malformed_set_is_reported(why: str) -> None:
    assert problems(_broken(MALFORMED[why])), why


@pytest.mark.parametrize("why", sorted(MISSHAPEN))
def test_a_misshapen_blind_set_is_reported(why: str) -> None:
    data = _broken(MISSHAPEN[why])
    assert problems(data) == [] and problems(data, strict=True), why
