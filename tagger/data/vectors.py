"""Pretrained word vectors from GloVe, word2vec or fastText text files (``.gz`` allowed).

GloVe has no header; word2vec and fastText ``.vec`` files start with ``COUNT DIM``. Files are
ordered by frequency, so "the first N words" are the N most frequent ones.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.errors import DataError


@dataclass
class Vectors:
    """The vectors kept from a file: ``words[i]`` has vector ``matrix[i]``."""

    words: list[str]
    matrix: np.ndarray  # (n_words, dim) float32

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        yield from enumerate(handle, start=1)


def load_vectors(
    path: str | Path, keep: Callable[[str, int], bool], lowercase: bool = True
) -> Vectors:
    """Read the vectors of the words for which ``keep(word, rank)`` is true.

    ``rank`` is the 0-based position of the word in the file. With ``lowercase``, words are
    lowercased and the first (most frequent) vector of each lowercased form wins.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, "pretrained vector file not found")
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    dim = None
    rank = 0
    for lineno, line in _lines(path):
        word, _, rest = line.rstrip("\n").rstrip(" ").partition(" ")
        if lineno == 1 and rest.count(" ") == 0 and word.isdigit() and rest.isdigit():
            continue  # word2vec / fastText header "COUNT DIM"
        if lowercase:
            word = word.lower()
        rank += 1
        if dim is None:
            dim = rest.count(" ") + 1
        if word in seen or not keep(word, rank - 1):
            continue
        values = np.array(rest.split(" "), dtype=np.float32)
        if len(values) != dim:
            raise DataError(str(path), lineno, f"expected {dim} numbers, found {len(values)}")
        seen.add(word)
        words.append(word)
        rows.append(values)
    if dim is None:
        raise DataError(str(path), None, "no vectors found")
    matrix = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return Vectors(words, matrix)
