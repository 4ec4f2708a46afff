"""Salient terms of an article's title and summary (pure): tokenised, stop words removed, stemmed.

Snowball stemming (PyStemmer, the maintained C build of the Snowball algorithms); the stop words are
the classic English list plus a few words every news headline uses. A term's count is weighted: a
word in the title counts `title_weight` times, one in the summary once.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
MAX_TERM_LEN = 40  # longer "words" are URLs, hashes or glued text: never worth a posting
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each even ever every few for from further get gets got had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm
    i've if in into is isn't it it's its itself just let's like made make makes many may me might more most
    much must mustn't my myself new news no nor not now of off on once one only or other ought our ours
    ourselves out over own per same say says said shan't she she'd she'll she's should shouldn't since so
    some such than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've this those though through to too two under until up upon us use used using
    very via was wasn't we we'd we'll we're we've well were weren't what what's when when's where where's
    whether which while who who's whom whose why why's will with within without won't would wouldn't yet
    you you'd you'll you're you've your yours yourself yourselves""".split()  # noqa: SIM905
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def words(text: str) -> list[str]:
    """Lower-case words of `text` (NFKC, case-folded), without stop words, numbers or single letters."""
    out: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        word = word.replace("’", "'")
        if word in STOP_WORDS:  # "don't", "isn't": whole, before the cut below
            continue
        word = word.split("'", 1)[0]  # "korea's" -> "korea"
        if len(word) > 1 and len(word) <= MAX_TERM_LEN and not word.isdigit() and word not in STOP_WORDS:
            out.append(word)
    return out


def stems(text: str, language: str = "english") -> list[str]:
    """The Snowball stems of `words(text)`, in order."""
    return list(_stemmer(language).stemWords(words(text)))


def term_counts(title: str, summary: str | None, title_weight: int = 2, language: str = "english") -> dict[str, int]:
    """Weighted term counts: each title occurrence counts `title_weight`, each summary occurrence 1."""
    counts: Counter[str] = Counter()
    for term in stems(title, language):
        counts[term] += title_weight
    for term in stems(summary or "", language):
        counts[term] += 1
    return dict(counts)


def title_key(title: str) -> str:
    """What two copies of one story share: the title's words, case-folded, punctuation and spacing dropped."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", title).casefold().replace("’", "'")))
