"""Words a full-text query leaves out, and why there are two lists.

``REDIS_STOPWORDS`` is RediSearch's default list: the index never holds these words, so a query must not send them.
Sending them is not harmless: on search 2.10.5 a union such as ``on | the | use`` closes the connection (a server
crash), so every text query drops them.

``QUESTION_STOPWORDS`` are further English function words (question words, pronouns, auxiliaries) that the index
does hold but that carry no topic: in "How do I copy a file?" only "copy" and "file" say what is wanted. BM25 ORs
the query words, so each such word pulls in every passage that happens to contain it. Dropping them raised BM25
R@1 on the Python FAQ set from 0.50 to 0.53 (benchmarks/store_recall.py). A query made only of such words keeps
them: an empty query would match nothing.

``UNPARSEABLE`` are ``\\w+`` words the query parser rejects as terms: a lone ``_`` is a ``Syntax error`` on search
2.10.5 (alone, in a union, in a filter), while ``__``, ``_x``, ``x_`` and every other ASCII word of one or two
characters parse (probed, and property-tested over arbitrary strings in ``tests/store/test_query_strings.py``). A
question drops it; a word filter (``$like``) that needs it is refused.
"""

from __future__ import annotations

REDIS_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)

QUESTION_STOPWORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "any",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "nor",
        "now",
        "off",
        "once",
        "only",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "than",
        "those",
        "through",
        "too",
        "under",
        "until",
        "up",
        "very",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)

#: Words the query parser rejects (a syntax error, not a non-match): never sent, see the module docstring.
UNPARSEABLE = frozenset({"_"})
