"""Vocabularies of words, characters and tags, with a casing feature; JSON in and out."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tagger.data.schemes import SCHEMES

PAD, UNK = "<pad>", "<unk>"
MAX_ENTRIES = 50_000_000  # words, characters or tags in a vocab.json: beyond any real model

# Casing classes (Reimers & Gurevych 2017): lowercased word vectors lose case, this gives it back.
CASINGS = ("pad", "other", "numeric", "mainly_numeric", "lower", "upper", "title", "has_digit")


@lru_cache(maxsize=1 << 16)  # words repeat: most lookups are for "the", ",", "."
def casing(word: str) -> int:
    """Index in :data:`CASINGS` of the word's shape."""
    digits = sum(ch.isdigit() for ch in word)
    if word.isdigit():
        return 2
    if digits / max(len(word), 1) > 0.5:
        return 3
    if word.islower():
        return 4
    if word.isupper():
        return 5
    if word[:1].isupper():
        return 6
    if digits:
        return 7
    return 1


@dataclass
class Vocab:
    """Index maps for the network's inputs and outputs.

    ``tags`` are the model's labels in ``model_scheme``; ``scheme`` is the scheme of the training
    files, used to write predictions back in the form the user gave them.
    """

    words: list[str]
    chars: list[str]
    tags: list[str]
    scheme: str = "none"
    model_scheme: str = "none"
    lowercase: bool = True
    word_index: dict[str, int] = field(init=False, repr=False)
    char_index: dict[str, int] = field(init=False, repr=False)
    tag_index: dict[str, int] = field(init=False, repr=False)
    _char_cache: dict[str, list[int]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    def word_key(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        index, key = self.word_index, self.word_key
        return [index.get(key(t), 1) for t in tokens]

    def char_ids(self, token: str) -> list[int]:
        """Character ids of ``token`` (memoised: the same tokens come back in every batch)."""
        ids = self._char_cache.get(token)
        if ids is None:
            ids = [self.char_index.get(c, 1) for c in token]
            if len(self._char_cache) < 1 << 18:
                self._char_cache[token] = ids
        return ids

    def tag_ids(self, tags: Sequence[str]) -> list[int]:
        """Ids of ``tags`` (model scheme); an unseen tag raises KeyError with its name."""
        return [self.tag_index[t] for t in tags]

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words,
            "chars": self.chars,
            "tags": self.tags,
            "scheme": self.scheme,
            "model_scheme": self.model_scheme,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Vocab:
        """Inverse of :meth:`to_dict`; raises ValueError naming a missing or malformed key."""
        for key in ("words", "chars", "tags"):
            items = raw.get(key)
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError(f"vocab key {key!r} missing or not a list of strings")
            if len(items) > MAX_ENTRIES or len(set(items)) != len(items):
                raise ValueError(f"vocab key {key!r}: duplicate entries or more than {MAX_ENTRIES}")
        if not raw["tags"] or len(raw["words"]) < 2 or len(raw["chars"]) < 2:
            raise ValueError("vocab: no tags, or no <pad> and <unk> entries")
        for key in ("scheme", "model_scheme"):
            if key in raw and raw[key] not in SCHEMES:
                raise ValueError(f"vocab key {key!r}: unknown scheme {raw[key]!r}")
        if not isinstance(raw.get("lowercase", True), bool):
            raise ValueError("vocab key 'lowercase': expected true or false")
        keys = ("words", "chars", "tags", "scheme", "model_scheme", "lowercase")
        return cls(**{k: raw[k] for k in keys if k in raw})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def build_vocab(
    sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
    *,
    extra_words: Iterable[str] = (),
    lowercase: bool = True,
    scheme: str = "none",
    model_scheme: str = "none",
) -> Vocab:
    """Count words, characters and tags of ``(tokens, model_tags)`` pairs into a :class:`Vocab`.

    ``extra_words`` (e.g. the most frequent pretrained vectors) join the word list after the
    training words, so that a pretrained vector can serve a word the training data never saw.
    """
    words: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    tags: dict[str, None] = {}
    for tokens, sentence_tags in sentences:
        words.update(t.lower() if lowercase else t for t in tokens)
        for token in tokens:
            chars.update(token)
        tags.update(dict.fromkeys(sentence_tags))
    word_list = [PAD, UNK, *sorted(words, key=lambda w: (-words[w], w))]
    seen = set(word_list)
    word_list += [w for w in extra_words if w not in seen and not seen.add(w)]
    char_list = [PAD, UNK, *sorted(chars, key=lambda c: (-chars[c], c))]
    return Vocab(word_list, char_list, sorted(tags), scheme, model_scheme, lowercase)
