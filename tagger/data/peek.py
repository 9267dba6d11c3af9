"""Read the first lines of a file ahead without losing them: the format detection
(:mod:`tagger.data.sniff`) looks at them, then the reader gets the whole input in one pass.

Files and gzip: :class:`PeekedLines` keeps the lines it read ahead and chains the rest of the
same reader. Stdin cannot be opened twice, so the bytes read ahead are put back: ``sys.stdin``
becomes a stream that replays them before the rest, and any later reader of ``-`` sees all.
"""

from __future__ import annotations

import io
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tagger.data.lines import decode_block, iter_lines, open_binary  # the reader's own decoding
from tagger.errors import DataError

PEEK_LINES = 200
PEEK_BYTES = 64 * 1024


class _Replay(io.RawIOBase):
    """A binary stream that gives ``head`` back first and then reads on from ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO, owner: object = None) -> None:
        super().__init__()
        self._head, self._rest = memoryview(head), rest
        self._owner = owner  # the text stream over ``rest``: collecting it would close ``rest``

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        read = getattr(self._rest, "read1", self._rest.read)
        data = read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: BinaryIO, lines: int, size: int) -> tuple[list[bytes], bool]:
    """Up to ``lines`` lines (``size`` bytes) of ``stream``, and whether a longer line was cut
    at the size limit (it is still in the list, for a replay)."""
    raws: list[bytes] = []
    seen = 0
    while len(raws) < lines and seen < size:
        raw = stream.readline(size - seen)
        if not raw:
            break
        raws.append(raw)
        seen += len(raw)
    return raws, seen >= size and bool(raws) and not raws[-1].endswith(b"\n")


def _peek_stdin(lines: int, size: int) -> list[tuple[int, str]]:
    """Read up to ``lines`` whole lines (``size`` bytes) of stdin and put them back:
    ``sys.stdin`` becomes a stream that replays them before the rest, so any later reader of
    ``-`` (this module's or another) sees the whole input. Returns the numbered lines read."""
    stdin = sys.stdin.buffer
    raws, cut = _read_head(stdin, lines, size)
    replay = io.BufferedReader(_Replay(b"".join(raws), stdin, sys.stdin))
    sys.stdin = io.TextIOWrapper(replay, encoding="utf-8", errors="strict")
    return _decode_head("-", raws, cut)


def _decode_head(name: str, raws: list[bytes], cut: bool) -> list[tuple[int, str]]:
    """Numbered lines of ``raws`` decoded as the reader does; a line cut at the size limit is
    kept as far as it was read (decoded leniently: the reader checks it later, whole)."""
    whole = raws[:-1] if cut else raws
    lines = decode_block(name, 0, b"".join(whole)) if whole else []
    if cut:
        last = raws[-1] if whole else raws[-1].removeprefix(b"\xef\xbb\xbf")  # BOM on line 1
        lines.append(last.decode("utf-8", errors="ignore"))
    return list(enumerate(lines, 1))


def head_lines(
    path: str | Path, lines: int = PEEK_LINES, size: int = PEEK_BYTES
) -> list[tuple[int, str]]:
    """The first numbered lines of a file, read on their own (stdin: put back)."""
    name = str(path)
    if name == "-":
        return PeekedLines(path, lines, size).head
    with open_binary(path) as stream:
        try:
            raws, cut = _read_head(stream, lines, size)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(name, None, f"cannot read the file: {err}") from None
    return _decode_head(name, raws, cut)


class PeekedLines:
    """The numbered lines of a file (``-``: stdin, ``.gz``: gzip), the first ones read ahead.

    ``head`` holds up to ``PEEK_LINES`` lines (or ``PEEK_BYTES`` of text); iterating yields them
    and then the rest of the input, so the input is read once (stdin: the peeked bytes are put
    back, see :func:`_peek_stdin`). Iterate only once.
    """

    def __init__(self, path: str | Path, lines: int = PEEK_LINES, size: int = PEEK_BYTES) -> None:
        self.name = str(path)
        self._used = False
        if self.name == "-":
            self.head = _peek_stdin(lines, size)
            self._rest = None
            return
        self._rest = iter_lines(path)
        self.head = []
        seen = 0
        for item in self._rest:
            self.head.append(item)
            seen += len(item[1]) + 1
            if len(self.head) >= lines or seen >= size:
                break

    def __iter__(self) -> Iterator[tuple[int, str]]:
        if self._used:
            raise RuntimeError(f"the lines of {self.name} were already read")
        self._used = True
        if self._rest is None:  # stdin: read afresh from the replaying stream
            yield from iter_lines(self.name)
            return
        yield from self.head
        yield from self._rest
