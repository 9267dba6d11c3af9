"""Pretrained word vectors from GloVe, word2vec or fastText text files (``.gz`` allowed).

GloVe has no header; word2vec and fastText ``.vec`` files start with ``COUNT DIM``. Files are
ordered by frequency, so "the first N words" are the N most frequent ones.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.data.lines import MAX_LINE
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
    """Numbered lines (undecodable bytes replaced); a truncated or unreadable file, or a line
    longer than :data:`MAX_LINE` bytes, is a DataError naming the line."""
    opener = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    try:
        with opener(path, "rb") as handle:
            while raw := handle.readline(MAX_LINE + 1):
                lineno += 1
                if len(raw) > MAX_LINE:
                    raise DataError(str(path), lineno, f"line longer than {MAX_LINE} bytes")
                yield lineno, raw.decode("utf-8", "replace")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(str(path), lineno + 1, f"cannot read the file: {exc}") from None


def _numbers(name: str, lineno: int, text: str, dim: int) -> np.ndarray:
    """The ``dim`` finite numbers of a vector line, or a DataError naming the line."""
    fields = text.split(" ")
    if len(fields) != dim:
        raise DataError(name, lineno, f"expected {dim} numbers, found {len(fields)}")
    try:
        values = np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(f for f in fields if not _is_number(f))
        raise DataError(name, lineno, f"not a number: {bad[:40]!r}") from None
    if not np.isfinite(values).all():
        raise DataError(name, lineno, "a vector value is not finite (nan or inf)")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
        word, _, rest = line.rstrip("\r\n").rstrip(" ").partition(" ")
        if lineno == 1 and rest.count(" ") == 0 and word.isdigit() and rest.isdigit():
            continue  # word2vec / fastText header "COUNT DIM"
        if lowercase:
            word = word.lower()
        rank += 1
        if dim is None:
            dim = rest.count(" ") + 1
        if word in seen or not keep(word, rank - 1):
            continue
        values = _numbers(str(path), lineno, rest, dim)
        seen.add(word)
        words.append(word)
        rows.append(values)
    if dim is None:
        raise DataError(str(path), None, "no vectors found")
    matrix = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return Vectors(words, matrix)
