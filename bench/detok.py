"""Turn tokenised corpora back into running text, keeping every gold token's character offsets.

Two detokenisers, so that a benchmark is not a fit to one of them:

``rules``
    written here: no space before closing punctuation and clitics (``,`` ``.`` ``)`` ``'s``
    ``n't``), none after opening brackets and currency signs, straight double quotes alternate
    between opening and closing within a sentence. sacremoses has the same idea with other rules.
``moses``
    sacremoses' ``MosesDetokenizer`` (``pip install sacremoses``); its output is aligned back to
    the tokens, and a sentence it changed beyond spacing falls back to ``rules``.

A text is a list of sentences (lists of tokens) laid out as ``LAYOUTS`` says; :func:`detokenize`
returns the text and each token's ``(start, end)``:

``document``
    running text, sentences joined by a space, except that a sentence that does not end in
    ``.`` ``!`` ``?`` (a headline, a byline, a dateline, a list item) ends its line, as such
    lines stand on their own in real text;
``running``
    every sentence joined by a space: the sentence splitter must find every boundary, also
    after unpunctuated headlines (no real text looks like that; the worst case);
``lines``
    one sentence per line (the corpus's sentence boundaries given).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

Offsets = list[tuple[int, int]]

_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "'", "''"}
_CLITICS = {"'s", "'S", "n't", "N'T", "'re", "'ve", "'ll", "'d", "'m", "'RE", "'VE", "'LL", "'D"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#", "``", "US$", "C$", "A$", "£", "€"}


def _rules_sentence(tokens: Sequence[str]) -> tuple[str, Offsets]:
    """One sentence by the rules above."""
    out: list[str] = []
    offsets: Offsets = []
    length, glue_next, quote_open = 0, True, False
    for token in tokens:
        glue = glue_next or token in _NO_SPACE_BEFORE or token in _CLITICS
        glue_next = token in _NO_SPACE_AFTER
        if token == '"':
            glue = glue or quote_open  # a closing quote sticks to the word before it
            glue_next = not quote_open  # an opening one to the word after it
            quote_open = not quote_open
        if not glue:
            out.append(" ")
            length += 1
        offsets.append((length, length + len(token)))
        out.append(token)
        length += len(token)
    return "".join(out), offsets


@lru_cache(maxsize=1)
def _moses() -> Callable[[list[str]], str]:
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer(lang="en")
    return lambda tokens: detok.detokenize(tokens, unescape=False)


def align(text: str, tokens: Sequence[str]) -> Offsets | None:
    """Each token's offsets in ``text``, where ``text`` holds the tokens in order separated by
    nothing but whitespace; None when it does not."""
    offsets: Offsets = []
    pos = 0
    for token in tokens:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(token, pos):
            return None
        offsets.append((pos, pos + len(token)))
        pos += len(token)
    return offsets if not text[pos:].strip() else None


def _moses_sentence(tokens: Sequence[str]) -> tuple[str, Offsets]:
    text = _moses()(list(tokens))
    offsets = align(text, tokens)
    return (text, offsets) if offsets is not None else _rules_sentence(tokens)


DETOKENIZERS = {"rules": _rules_sentence, "moses": _moses_sentence}


LAYOUTS = ("document", "running", "lines")
_FINAL = {".", "!", "?", "...", "?!", "!!"}
_CLOSERS = {'"', "''", "'", ")", "]", "”", "’"}


def ends_sentence(tokens: Sequence[str]) -> bool:
    """Whether the last token (before closing quotes and brackets) is final punctuation."""
    words = list(tokens)
    while words and words[-1] in _CLOSERS:
        words.pop()
    return bool(words) and words[-1] in _FINAL


def _separator(previous: Sequence[str], layout: str) -> str:
    if layout == "lines" or (layout == "document" and not ends_sentence(previous)):
        return "\n"
    return " "


def detokenize(
    sentences: Sequence[Sequence[str]], how: str = "rules", layout: str = "document"
) -> tuple[str, Offsets]:
    """The sentences as one text laid out as ``layout`` says, and every token's offsets."""
    one = DETOKENIZERS[how]
    parts: list[str] = []
    offsets: Offsets = []
    length = 0
    for previous, sentence in zip([None, *sentences], sentences):
        if previous is not None:
            sep = _separator(previous, layout)
            parts.append(sep)
            length += len(sep)
        text, found = one(sentence)
        offsets.extend((start + length, end + length) for start, end in found)
        parts.append(text)
        length += len(text)
    return "".join(parts), offsets
