"""Closed word classes and general near-synonyms for the near-miss verifier (:mod:`.verify`).

Why word classes and not word vectors: with all-MiniLM-L6-v2 the cosine of isolated words does not tell synonyms from
contrasting terms -- read/write 0.56, good/bad 0.59, install/uninstall 0.57 against convert/turn 0.36 -- because
embedders place words that occur in the same contexts together, and opposites do. What the verifier needs is
grammatical: which words are *framing* (articles, pronouns, auxiliaries, question openers: they never change the
answer), which are *negations*, and which closed-class words DO change the answer although stop-word lists drop them
(quantifiers and numbers: "all" / "the first", "a key" / "two keys"; direction particles: round "up" / "down"). Only
the near-synonym groups are open vocabulary; they are general phrasing of technical questions, one sense per group,
not pairs taken from an evaluation set. A synonym missing here costs a hit (the safe side), never a wrong answer.
"""

from __future__ import annotations

NEGATIONS = frozenset({"not", "no", "non", "never", "none", "nothing", "without", "cannot", "nor", "neither"})

#: Verbs that turn the rest of a question around ("cache responses" / "STOP the browser from caching responses"):
#: added on one side only, they ask for the opposite.
PREVENTIONS = frozenset({"prevent", "stop", "avoid", "disable", "forbid", "disallow", "suppress", "block", "ignore"})
#: Words that set what is asked against something else ("as a DataFrame INSTEAD of a Series", "by its labels RATHER
#: than by a column"): on one side only, the question excludes what the other asks for.
CONTRASTS = frozenset({"instead", "rather", "except", "excluding", "besides", "unlike"})

#: Quantity words, each mapped to the quantity it names: "a single file" / "all files" differ, "all files" / "files"
#: do not (a quantity only one question states is ignored; numbers are content words anyway).
QUANTITIES = {"one": "1", "single": "1", "all": "all", "every": "all", "each": "all", "whole": "all", "entire": "all"}
QUANTITIES |= {"both": "2", "two": "2", "three": "3", "first": "first", "last": "last", "only": "only"}

#: Number words and the numeral each spells: "fill NaN with zero" / "with 0", "the top five rows" / "the top 5 rows"
#: are one question (a different number is still a different question).
_SPELLED = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
NUMBER_WORDS = {word: str(n) for n, word in enumerate(_SPELLED)}
NUMBER_WORDS |= {"twenty": "20", "hundred": "100", "thousand": "1000", "million": "1000000"}

#: Prepositions that relate two things in one direction: "copy files TO a server" / "FROM a server".
RELATIONS = {"to": "to", "into": "to", "onto": "to", "from": "from", "before": "before", "after": "after"}
RELATIONS |= {"above": "above", "below": "below", "than": "than"}

#: Determiners: "a list" / "my list" / "the list" fill one slot; "in Python" is a scope, "with a delimiter" a thing.
DETERMINERS = frozenset("a an the my your our their its his her some any this that these those".split())  # noqa: SIM905

#: Prepositions that open a trailing scope qualifier ("... in Python", "... on Linux", "... using git").
SCOPE_PREPOSITIONS = frozenset({"in", "on", "with", "using", "from", "via", "inside", "within", "under"})

# Function words and question framing ("how can I", "is it possible to", "what's"): they carry no topic, and neither do
# universal quantifiers ("every string in a list" = "the strings in a list") or prepositions that relate without a
# direction ("shared between objects" = "shared across objects"; the directional ones are in RELATIONS). Numbers,
# ordinals, "only" and direction particles are deliberately absent: "all tasks" / "the first task" and "round up" /
# "round down" differ.
STOP = frozenset(
    """
    a an the and or but if of to in on at by for with from into onto over as about than then so too very also just
    even still really actually again ever other another such own same i i'm i've me my mine we our us you your
    yours he him his she her it it's its they them their this that these those there here what what's which who whom
    whose when where where's why how how's whether is are was were be been being am do does did doing done have has had
    having can could may might must shall should will would let get gets got getting possible possibly way ways
    please thing things want wants need needs like go going tell someone something anyone anything one single out
    though although while given particular certain etc e.g i.e all every each both whole entire
    between across among amongst through throughout along around per
    """.split()  # noqa: SIM905 -- a word list reads better as text
)

# Near-synonyms in how programming questions are phrased. General vocabulary, one group per sense; a word may be in
# several groups. Matching is by stem, so list one form of each word.
SYNONYMS = (
    "make create generate produce build construct write define implement form",
    "convert turn transform cast translate change",
    "change modify alter edit update mutate mutation",
    "get obtain retrieve fetch acquire download access read grab",
    "find discover locate search look determine identify detect know learn see",
    "check test verify determine tell see find detect",
    "exist contain present include have",
    "remove delete drop eliminate erase discard strip rid",
    "add append insert push include extend",
    "run execute launch invoke start",
    "call invoke apply",
    "return give",
    "stop terminate end halt finish exit quit kill",
    "join concatenate concat combine merge",
    "split break separate divide",
    "send submit transmit",
    "mail email e-mail",
    "raise throw",
    "error exception failure problem",
    "difference differ different distinguish compare versus vs",
    "same equivalent equal identical similar alike like",
    "complex complicated sophisticated advanced",
    "fast quick speed faster fastest efficient performance quickly",
    "large big huge",
    "small tiny little",
    "largest biggest maximum max greatest highest",
    "smallest minimum min least lowest",
    "good suitable suited useful best recommended ideal appropriate well",
    "rule guideline convention standard practice style",
    "help assist support aid",
    "show display print output",
    "loop iterate traverse walk",
    "reverse reversed backwards backward invert",
    "parse decode deserialize load",
    "serialize encode dump",
    "suggest propose recommend",
    "persistent persist save store",
    "restriction restrict limit limitation constraint",
    "allow permit allowed",
    "mean meaning explain definition purpose",
    "work function operate behave",
    "appear seem look",
    "wait block",
    "pass forward propagate",
    "beginner novice newbie beginning",
    "measure time timing duration",
    "library package module lib",
    "dict dictionary mapping",
    "str string text",
    "int integer",
    "func function",
    "arg argument param parameter",
    "doc docs documentation",
    "app application program",
    "script program",
    "dir directory folder",
    "var variable",
    "obj object",
    "num number",
    "element item entry member",
    "attribute attr property field",
    "clear reset empty flush",
    "open connect connection establish",
    "handle process manage deal",
    "reason why cause",
    "specify write express declare",
    "last final latest recent",
    "first initial",
    "many multiple several",
    "two pair",
    "multidimensional dimensional nested",
    "unique distinct",
    "fix solve resolve repair",
    "install setup",
    "use utilize employ",
    "pick choose select",
    "compute calculate",
    "sort order arrange",
    "shrink reduce decrease",
)

#: Short forms of programming vocabulary, each with the word it stands for (more are near-synonym groups above:
#: str, int, func, arg, param, dict, dir, var, obj, num, attr, lib, doc, app, max, min). A listed form only: a short
#: word whose letters merely occur in a longer one is another word ("cut" / "convert", "re" / "return").
ABBREVIATIONS = (
    "js javascript",
    "db database",
    "env environment",
    "df dataframe",
    "np numpy",
    "pd pandas",
    "config cfg conf configuration",
    "repo repository",
    "img image",
    "msg message",
    "pkg package",
    "info information",
    "auth authentication",
    "tmp temp temporary",
    "src source",
    "cmd command",
    "ctx context",
    "resp response",
    "err error",
    "idx index",
    "fmt format",
    "avg average",
    "calc calculate",
    "char character",
    "col column",
    "elem element",
    "expr expression",
    "addr address",
    "regex regexp",
    "util utility",
    "impl implementation",
    "init initialize initialise",
    "exec execute",
    "spec specification",
    "k8s kubernetes",
)

#: Endings that make an adverb of a word, which asks the same ("exact" / "exactly", "secure" / "securely", as the
#: light stemmer leaves them: a final "e" dropped). Noun endings are not here: after a noun they make another word
#: as often as not ("port" / "portion", "major" / "majority", "product" / "production"), and neither are agent
#: nouns ("contain" / "container") nor any other longer word that merely starts with a word ("time" / "timeout").
ADVERB_ENDINGS = ("ly", "ely", "ally")
