"""Is there a better bundled local LLM than SmolLM2-135M-Instruct? (issue #17, item 7)

30 Python FAQ questions (every 6th pair of ``redis_rag_integrations/data/python_faq.json``: pairs 0, 6, ..., 174,
chosen by position, not by content), each asked the way the RAG demo asks: the demo's system prompt, then
``Context:\\n[Python FAQ]\\n{passage}\\n\\nQuestion: {question}``, where the passage is the FAQ answer cut to
1800 characters (the demo's prompt holds three 600-character chunks). Same prompt for every model, greedy
(temperature 0, the server's default repeat penalty 1.1), at most 96 new tokens (the demo's ``--max-tokens``).

Speed: the models are loaded side by side in this process and the questions interleaved (the model order flips on
every question), streaming: time to first token (prompt read included) and decode tokens per second (chunks after
the first over the time after the first). The machine is shared: compare the ratios, with the load average beside
them.

Correctness: an automatic proxy only (the human verdicts are in ``results/local_llm_eval_verdicts.json``, one line
of reason per answer, merged into the Markdown report when present):

- ``key-term recall``: the share of the passage's key terms (content words of its first two sentences) that the
  answer uses;
- ``grounded``: the share of the answer's content words found in the passage or the question (made-up text scores
  low).

Standalone: ``OMP_WAIT_POLICY=PASSIVE python -m benchmarks.local_llm_eval MODEL.gguf[:chat_format] ...``; without
arguments, the bundled SmolLM2 only. Writes ``results/local_llm_eval.json`` and ``results/local_llm_eval.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads OpenMP: busy-waiting collapses decoding

from llama_cpp import Llama

from redis_rag_integrations.demo.langchain_rag import SYSTEM_PROMPT
from redis_rag_integrations.llm import local_model_path

FAQ = Path(__file__).resolve().parents[1] / "redis_rag_integrations" / "data" / "python_faq.json"
RESULTS = Path(__file__).resolve().parent / "results"
STEP = 6  # every 6th pair: 30 of 179
QUESTIONS = 30
PASSAGE_CHARS = 1800
MAX_TOKENS = 96
N_CTX = 4096
_STOPWORDS = """
    a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just like may me might more most much must my no nor not now of
    off on once one only or other our out over own same she should so some such than that the their them then there
    these they this those through to too under until up use used using very was way we were what when where which
    while who whom why will with would you your yes get gets make makes many well even still want need python"""
STOPWORDS = frozenset(re.findall(r"\S+", _STOPWORDS))


@dataclass
class Answer:
    model: str
    index: int
    text: str
    finish_reason: str | None
    tokens: int
    ttft_s: float
    decode_tok_s: float | None
    key_term_recall: float
    grounded: float
    load_1min: float


@dataclass
class ModelSpec:
    name: str
    path: str
    chat_format: str | None
    size_mb: float = 0.0
    answers: list[Answer] = field(default_factory=list)


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z0-9_]+", text.lower()) if w not in STOPWORDS and len(w) > 2]


def key_terms(passage: str) -> set[str]:
    first = " ".join(re.split(r"(?<=[.!?])\s+", passage.strip())[:2])
    return set(words(first))


def cut(passage: str, limit: int = PASSAGE_CHARS) -> str:
    if len(passage) <= limit:
        return passage
    return passage[:limit].rsplit(None, 1)[0] + " ..."


def sample() -> list[tuple[int, dict[str, str]]]:
    pairs = json.loads(FAQ.read_text())["pairs"]
    return [(i, pairs[i]) for i in range(0, len(pairs), STEP)][:QUESTIONS]


def messages(pair: dict[str, str]) -> list[dict[str, str]]:
    context = f"[Python FAQ]\n{cut(pair['answer'])}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {pair['question']}"},
    ]


def ask(llm: Llama, spec: ModelSpec, index: int, pair: dict[str, str]) -> Answer:
    start = time.perf_counter()
    first = last = None
    chunks = 0
    parts: list[str] = []
    finish: str | None = None
    stream: Any = llm.create_chat_completion(
        messages=messages(pair),  # type: ignore[arg-type]
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        repeat_penalty=1.1,
        stream=True,
    )
    for chunk in stream:
        choice = chunk["choices"][0]
        piece = choice["delta"].get("content")
        if piece:
            now = time.perf_counter()
            first = first if first is not None else now
            last = now
            chunks += 1
            parts.append(piece)
        finish = choice.get("finish_reason") or finish
    text = "".join(parts).strip()
    decode = (chunks - 1) / (last - first) if first is not None and last is not None and last > first else None
    terms = key_terms(pair["answer"])
    said = words(text)
    source = set(words(pair["answer"] + " " + pair["question"]))
    return Answer(
        model=spec.name,
        index=index,
        text=text,
        finish_reason=finish,
        tokens=chunks,
        ttft_s=(first - start) if first is not None else float("nan"),
        decode_tok_s=decode,
        key_term_recall=len(terms & set(said)) / len(terms) if terms else 0.0,
        grounded=sum(w in source for w in said) / len(said) if said else 0.0,
        load_1min=os.getloadavg()[0],
    )


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summary(spec: ModelSpec, verdicts: dict[str, Any]) -> dict[str, Any]:
    answers = spec.answers
    judged = verdicts.get(spec.name, {})
    accepted = [judged[str(a.index)][0] for a in answers if str(a.index) in judged]
    return {
        "model": spec.name,
        "file": Path(spec.path).name,
        "size_mb": round(spec.size_mb, 1),
        "chat_format": spec.chat_format or "(from the GGUF)",
        "accepted": f"{sum(accepted)}/{len(accepted)}" if accepted else "not judged",
        "key_term_recall": round(sum(a.key_term_recall for a in answers) / len(answers), 3),
        "grounded": round(sum(a.grounded for a in answers) / len(answers), 3),
        "median_ttft_s": round(median([a.ttft_s for a in answers]), 3),
        "median_decode_tok_s": round(median([a.decode_tok_s for a in answers if a.decode_tok_s]), 1),
        "mean_tokens": round(sum(a.tokens for a in answers) / len(answers), 1),
        "cut_at_max_tokens": sum(a.finish_reason == "length" for a in answers),
        "load_1min_range": [round(min(a.load_1min for a in answers), 2), round(max(a.load_1min for a in answers), 2)],
    }


def markdown(specs: list[ModelSpec], pairs: list[tuple[int, dict[str, str]]], verdicts: dict[str, Any]) -> str:
    rows = [summary(s, verdicts) for s in specs]
    keys = list(rows[0])
    out = [
        "# Local LLM evaluation (issue #17 item 7)",
        "",
        f"Questions: every {STEP}th pair of python_faq.json (indices 0, {STEP}, ..., {STEP * (QUESTIONS - 1)}), "
        f"passage cut to {PASSAGE_CHARS} characters as the context, the demo's system prompt, greedy, "
        f"max {MAX_TOKENS} new tokens; models interleaved per question in one process. Generated by "
        "`benchmarks/local_llm_eval.py`; verdicts (accepted by a reader against the FAQ passage, one-line reason) "
        "from `local_llm_eval_verdicts.json`.",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
    ]
    out += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    for key, title in (("_rules", "How the answers were judged"), ("_conclusion", "Conclusion")):
        if key in verdicts:
            out += ["", f"**{title}.** {verdicts[key]}"]
    for index, pair in pairs:
        out += ["", f"## {index}. {pair['question']}", "", "> " + cut(pair["answer"], 400).replace("\n", " "), ""]
        for spec in specs:
            answer = next(a for a in spec.answers if a.index == index)
            verdict = verdicts.get(spec.name, {}).get(str(index))
            mark = ("ACCEPT" if verdict[0] else "REJECT") + f": {verdict[1]}" if verdict else "not judged"
            out.append(
                f"- **{spec.name}** ({mark}; recall {answer.key_term_recall:.2f}, grounded {answer.grounded:.2f}): "
                + (answer.text.replace("\n", " ") or "(empty)")
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="NAME=PATH.gguf[:chat_format] candidates beside SmolLM2")
    parser.add_argument("--report-only", action="store_true", help="rebuild the Markdown from the saved JSON")
    args = parser.parse_args()
    verdict_file = RESULTS / "local_llm_eval_verdicts.json"
    verdicts = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
    pairs = sample()
    if args.report_only:
        saved = json.loads((RESULTS / "local_llm_eval.json").read_text())
        specs = []
        for s in saved["models"]:
            spec = ModelSpec(s["name"], s["path"], s["chat_format"], s["size_mb"])
            spec.answers = [Answer(**a) for a in s["answers"]]
            specs.append(spec)
    else:
        specs = [ModelSpec("SmolLM2-135M-Instruct", str(local_model_path()), None)]
        for item in args.models:
            name, _, rest = item.partition("=")
            path, _, chat_format = rest.partition(":")
            specs.append(ModelSpec(name, path, chat_format or None))
        models = {}
        for spec in specs:
            spec.size_mb = Path(spec.path).stat().st_size / 1e6
            models[spec.name] = Llama(spec.path, n_ctx=N_CTX, chat_format=spec.chat_format, verbose=False, seed=0)
        for turn, (index, pair) in enumerate(pairs):
            order = specs if turn % 2 == 0 else specs[::-1]
            for spec in order:
                answer = ask(models[spec.name], spec, index, pair)
                spec.answers.append(answer)
                print(f"{index:3d} {spec.name}: {answer.ttft_s:.2f}s {answer.decode_tok_s or 0:.1f} tok/s", flush=True)
        RESULTS.mkdir(exist_ok=True)
        payload = {
            "step": STEP,
            "indices": [i for i, _ in pairs],
            "max_tokens": MAX_TOKENS,
            "passage_chars": PASSAGE_CHARS,
            "cpu_count": os.cpu_count(),
            "models": [
                {**{k: v for k, v in asdict(s).items() if k != "answers"}, "answers": [asdict(a) for a in s.answers]}
                for s in specs
            ],
        }
        (RESULTS / "local_llm_eval.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / "local_llm_eval.md").write_text(markdown(specs, pairs, verdicts))
    for spec in specs:
        print(json.dumps(summary(spec, verdicts)))


if __name__ == "__main__":
    main()
