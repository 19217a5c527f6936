"""Turn one page of Sphinx-built HTML (the Python docs) into clean text, section by section.

The stdlib :class:`html.parser.HTMLParser` is enough for Sphinx's regular markup, so the corpus loader needs no
third-party HTML dependency. Only the ``<div role="main">`` body is kept: the sidebars, the navigation bars, the
local table of contents and the pilcrow permalinks would otherwise repeat on every page and pollute retrieval
(every chunk would "match" the word "Navigation"). Code blocks keep their line breaks, prose is re-flowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {"p", "li", "pre", "dt", "dd", "div", "tr", "section", "blockquote", "table", "ul", "ol", "dl", "br", "figure"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID_TAGS = frozenset({"br", "img", "hr", "meta", "input", "link", "wbr", "source", "col", "area", "base"})
_SPACES = re.compile(r"\s+")


@dataclass
class Section:
    """One ``<section>`` of a page: its anchor, nesting depth, heading and the text directly inside it."""

    anchor: str
    depth: int
    heading: str = ""
    paragraphs: list[str] = field(default_factory=list)
    children: int = 0

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass
class Page:
    """A parsed page: ``<title>`` without the " — Python 3.x documentation" suffix, and its sections in order."""

    title: str
    sections: list[Section]

    def text(self) -> str:
        """The whole body as text, headings as markdown-style lines so splitters and LLMs see the structure."""
        blocks: list[str] = []
        for section in self.sections:
            if section.heading:
                blocks.append("#" * max(1, min(section.depth, 6)) + " " + section.heading)
            blocks.extend(section.paragraphs)
        return "\n\n".join(blocks)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.sections: list[Section] = [Section(anchor="", depth=0)]
        self._open: list[Section] = [self.sections[0]]
        self._in_title = False
        self._main_divs = 0  # >0 while inside <div role="main">, counting nested divs
        self._skip: list[str] = []  # stack of tags whose whole content is dropped
        self._pre = 0
        self._heading: list[str] | None = None
        self._buffer: list[str] = []

    # -------------------------------------------------------------------------------------------------- helpers
    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        text = raw.strip("\n") if self._pre else _SPACES.sub(" ", raw).strip()
        if text.strip():
            self._open[-1].paragraphs.append(text.rstrip())

    @staticmethod
    def _is_skipped(tag: str, attrs: dict[str, str | None]) -> bool:
        classes = (attrs.get("class") or "").split()
        if tag in {"script", "style", "nav"}:
            return True
        if tag == "a" and "headerlink" in classes:
            return True
        return "linenos" in classes

    # -------------------------------------------------------------------------------------------------- events
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "title":
            self._in_title = True
            return
        if self._main_divs == 0:
            if tag == "div" and attrs.get("role") == "main":
                self._main_divs = 1
            return
        if tag == "div":
            self._main_divs += 1
        if self._skip:
            if tag not in _VOID_TAGS:
                self._skip.append(tag)
            return
        if self._is_skipped(tag, attrs):
            if tag not in _VOID_TAGS:
                self._skip.append(tag)
            return
        if tag == "section":
            self._flush()
            self._open[-1].children += 1
            section = Section(anchor=attrs.get("id") or "", depth=len(self._open))
            self.sections.append(section)
            self._open.append(section)
        elif tag in _HEADINGS:
            self._flush()
            self._heading = []
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self._main_divs and not self._skip:
            self._buffer.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if self._main_divs == 0:
            return
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            if tag == "div":
                self._main_divs -= 1
            return
        if tag in _HEADINGS and self._heading is not None:
            self._open[-1].heading = _SPACES.sub(" ", "".join(self._heading)).strip()
            self._heading = None
        elif tag == "section":
            self._flush()
            if len(self._open) > 1:
                self._open.pop()
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()
        if tag == "div":
            self._main_divs -= 1
            if self._main_divs == 0:
                self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._main_divs and not self._skip:
            (self._heading if self._heading is not None else self._buffer).append(data)


def parse_page(html: str) -> Page:
    """Parse a Sphinx HTML page into its title and sections (the body only)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    title = _SPACES.sub(" ", "".join(parser.title_parts)).strip()
    title = re.split(r" \u2014 Python [\d.]+ documentation$", title)[0]
    sections = [s for s in parser.sections if s.heading or s.paragraphs]
    return Page(title=title, sections=sections)
