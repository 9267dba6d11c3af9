"""``--shard I/N``: the I-th of N near-equal parts of an input, for array jobs (Slurm and alike).

Parts are counted in sentences (whole documents when the model reads documents) and are
contiguous, so the N outputs concatenated in order are the output for the whole input. Every
line belongs to exactly one part: blank lines right after a sentence go with that sentence,
any other line outside a sentence (document marker, comment) with the sentence that follows.
``I`` is 1-based (``1/N`` .. ``N/N``), as in ``sbatch --array=1-N``.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator

from tagger.data.chunks import Chunk
from tagger.errors import DataError, TaggerError

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``, 1 <= I <= N; a malformed value raises a one-line TaggerError."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise TaggerError(f"--shard {text!r}: expected I/N, e.g. 1/4 (parts are 1..N)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise TaggerError(f"--shard {text}: I must be 1..N and N at least 1 (parts are 1-based)")
    return index, count


def _positions(chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, int]]:
    """Each chunk with the sentence number it belongs to (see the module docstring)."""
    seen, after_sentence = 0, False
    for chunk in chunks:
        if chunk.sentence is not None:
            yield chunk, seen
            seen, after_sentence = seen + 1, True
            continue
        after_sentence = after_sentence and not any(line.strip() for line in chunk.lines)
        yield chunk, seen - 1 if after_sentence else seen


def bounds(
    chunks: Iterable[Chunk], count: int, whole_docs: bool, source: str = "input"
) -> list[float]:
    """``count + 1`` sentence numbers cutting ``chunks`` into parts: part ``k`` (0-based) holds
    sentences ``bounds[k] <= s < bounds[k + 1]``; the last bound is infinite so that lines after
    the last sentence belong to the last part. With ``whole_docs`` cuts fall on document starts.
    Reads the chunks once, keeping only the sentence number of each document start."""
    starts = array("q")  # sentence numbers where a unit (sentence or document) starts
    total, last_doc = 0, None
    for chunk in chunks:
        sentence = chunk.sentence
        if sentence is None:
            continue
        if not whole_docs or sentence.doc != last_doc:
            if whole_docs:
                starts.append(total)
            last_doc = sentence.doc
        total += 1
    if total == 0:
        raise DataError(source, None, "no sentences found")
    cuts: list[float] = [0]
    unit = 0
    for k in range(1, count):
        target = (k * total) // count  # sentence-level cut: the equal split
        if whole_docs:  # the first document starting at or after it
            while unit < len(starts) and starts[unit] < target:
                unit += 1
            target = starts[unit] if unit < len(starts) else total
        cuts.append(max(target, cuts[-1]))
    return [*cuts, math.inf]


def select(chunks: Iterable[Chunk], cuts: list[float], part: int) -> Iterator[Chunk]:
    """The chunks of part ``part`` (0-based) under ``cuts`` from :func:`bounds`; stops reading
    at the end of the part."""
    low, high = cuts[part], cuts[part + 1]
    for chunk, position in _positions(chunks):
        if position >= high:
            return
        if position >= low:
            yield chunk


def shard_chunks(
    counting: Iterable[Chunk],
    chunks: Iterable[Chunk],
    spec: tuple[int, int],
    whole_docs: bool,
    source: str,
) -> Iterator[Chunk]:
    """Part ``spec = (I, N)`` (1-based I) of ``chunks``; ``counting`` is a second reading of
    the same input, read to the end first to place the cuts (so stdin cannot be sharded)."""
    if source == "-":
        raise TaggerError("--shard needs a file: stdin cannot be read twice")
    index, count = spec
    cuts = bounds(counting, count, whole_docs, source)
    return select(chunks, cuts, index - 1)
