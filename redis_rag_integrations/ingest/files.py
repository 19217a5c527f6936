"""Read txt, md and html files into (doc id, text, metadata) for the ``redis-rag ingest`` command."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})


class _TextOnly(HTMLParser):
    """Visible text of an HTML page: drops script, style, nav and head content."""

    _SKIP = frozenset({"script", "style", "nav", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "pre", "tr", "section"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def iter_files(paths: Sequence[str | Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, the root it was found under) for every supported file in ``paths`` (files or folders)."""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise ValueError(f"{path}: unsupported file type (supported: {', '.join(sorted(SUFFIXES))})")
            yield path, path.parent
        else:
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in SUFFIXES:
                    yield file, path


def read_document(file: Path, root: Path) -> tuple[str, str, dict[str, str]]:
    """(doc id = path relative to its root, text, metadata). Undecodable bytes are replaced, not fatal."""
    raw = file.read_text(encoding="utf-8", errors="replace")
    text = html_to_text(raw) if file.suffix.lower() in (".html", ".htm") else raw
    rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else file.as_posix()
    return rel, text, {"source": rel, "type": file.suffix.lower().lstrip(".")}
