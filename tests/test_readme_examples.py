"""Every ```python block of README.md runs as written, alone, in a fresh interpreter.

A reader copies one block into a file and runs it: so each block gets its own process, an empty working directory
and nothing but the environment a fresh machine has (no OpenAI key or base URL: the defaults must work offline,
the bundled local LLM included), pointed at the test's Redis through ``REDIS_URL``. A block may opt out only with
``<!-- readme-test: skip (why) -->`` on the line before its fence; opt-outs are counted so they stay rare.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
#: Opt-outs allowed in the whole README: raising this is a decision to document less than we test.
MAX_OPT_OUTS = 1
#: Seconds a block may take: a first model load and the local LLM's start on a busy 2-core machine.
TIMEOUT = 900
_OPT_OUT = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<why>[^)]+)\)\s*-->")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    heading: str
    code: str
    skip_reason: str | None


def python_blocks(text: str) -> list[Block]:
    """The ```python blocks of ``text`` with the heading they sit under and their opt-out, if any."""
    blocks: list[Block] = []
    lines = text.splitlines()
    heading, previous, i = "", "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line.lstrip("#").strip()
        fence = re.match(r"^(`{3,})\s*python\s*$", line)
        if fence:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group(1)), None)
            assert end is not None, f"README.md line {i + 1}: unclosed ```python block"
            opt_out = _OPT_OUT.search(previous)
            blocks.append(Block(i + 1, heading, "\n".join(lines[i + 1 : end]) + "\n", opt_out and opt_out["why"]))
            i, previous = end + 1, ""
            continue
        if line.strip():
            previous = line
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text())


def test_the_readme_has_examples_and_few_opt_outs() -> None:
    """Guards the extraction itself: a parser that found nothing would make every other test here vacuous."""
    assert len(BLOCKS) >= 6
    skipped = [f"line {b.line}: {b.skip_reason}" for b in BLOCKS if b.skip_reason]
    assert len(skipped) <= MAX_OPT_OUTS, f"too many README blocks opt out of this test: {skipped}"


def test_the_extraction_sees_fences_headings_and_opt_outs() -> None:
    text = "## A\n\n```python\nx = 1\n```\n\n## B\n<!-- readme-test: skip (needs a key) -->\n\n```python\ny\n```\n"
    first, second = python_blocks(text)
    assert (first.heading, first.code, first.skip_reason, first.line) == ("A", "x = 1\n", None, 3)
    assert (second.heading, second.code, second.skip_reason) == ("B", "y\n", "needs a key")
    assert python_blocks("```bash\nls\n```\n") == []


def _fresh_machine_env(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_RAG_"))}
    env["REDIS_URL"] = redis_url
    # The suite's data dir, not the user's: a block that unsets REDIS_URL still stays inside the test session.
    env["REDIS_RAG_DATA_DIR"] = os.environ["REDIS_RAG_DATA_DIR"]
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}-{b.heading[:30]}" for b in BLOCKS])
def test_readme_block_runs_as_written(block: Block, redis_url: str, tmp_path: Path) -> None:
    if block.skip_reason:
        pytest.skip(f"opted out in README.md: {block.skip_reason}")
    script = tmp_path / "example.py"
    script.write_text(block.code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_fresh_machine_env(redis_url),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, (
        f"README.md block at line {block.line} ({block.heading}) exited {done.returncode}:\n"
        f"{block.code}\n--- stderr ---\n{done.stderr[-4000:]}"
    )
