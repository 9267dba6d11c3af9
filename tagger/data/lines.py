"""Files -> numbered lines of text, in bounded memory.

Input is strict UTF-8 (a BOM is dropped), ``\\n`` or ``\\r\\n`` line ends, gzip when the name
ends in ``.gz``, and ``-`` means stdin. A decoding error names its exact line; a line longer than
:data:`MAX_LINE` bytes is an error.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tagger.errors import DataError, TaggerError

_BOM = b"\xef\xbb\xbf"
MAX_LINE = 1 << 20  # bytes in one line at most: bounds the memory that one line may take


def open_binary(path: str | Path) -> contextlib.AbstractContextManager[BinaryIO]:
    """Open ``path`` (``-`` = stdin, ``.gz`` = gzip) as a binary stream to be used in ``with``."""
    name = str(path)
    if name == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rb")  # type: ignore[return-value]
        return open(name, "rb")  # noqa: SIM115
    except OSError as err:
        raise TaggerError(f"cannot read {name}: {err.strerror or err}") from None


def _decode(name: str, lineno: int, raw: bytes) -> str:
    """Decode one line of bytes (terminator and, on line 1, BOM removed) as strict UTF-8."""
    if lineno == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = raw[err.start]
        message = f"not valid UTF-8 (byte 0x{bad:02x} at byte {err.start + 1} of the line)"
        raise DataError(name, lineno, message) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of ``path``, numbered from 1.

    Lines are split on ``\\n`` only (a lone ``\\r`` inside a line is kept), the terminator
    (``\\n`` or ``\\r\\n``) is removed, and a decoding error names its exact line. Lines are
    read and decoded about 1 MB at a time (cheaper than line by line: ``docs/performance.md``);
    a line longer than :data:`MAX_LINE` bytes is an error naming it, so memory stays bounded on
    any input (``/dev/zero`` included).
    """
    name = str(path)
    lineno = 0
    with open_binary(path) as stream:
        try:
            for block in _blocks(stream, name):
                for text in decode_block(name, lineno, block):
                    lineno += 1
                    yield lineno, text
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(name, lineno + 1, f"cannot read the file: {err}") from None


def _blocks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    """Whole lines of ``stream`` (the file's last one may lack its ``\\n``), about 1 MB at a
    time; reads what is available (``read1``), so that lines from a pipe come as they arrive."""
    read = getattr(stream, "read1", stream.read)
    rest, before = b"", 0
    while data := read(MAX_LINE):  # a line longer than one read starts in ``rest``
        first = data.find(b"\n")
        if len(rest) + (first if first >= 0 else len(data)) > MAX_LINE:
            raise DataError(name, before + 1, f"line longer than {MAX_LINE} bytes")
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            before += data.count(b"\n", 0, cut)
            yield data[:cut]
    if rest:
        yield rest


def decode_block(name: str, before: int, block: bytes) -> list[str]:
    """Decode whole lines that follow line ``before``, as :func:`_decode` does one by one."""
    if before == 0 and block.startswith(_BOM):
        block = block[len(_BOM) :]
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:  # find the line, and say where in it
        raws = block.split(b"\n")
        if not raws[-1]:
            raws.pop()
        return [_decode(name, before + i, raw) for i, raw in enumerate(raws, 1)]
    lines = text.replace("\r\n", "\n").split("\n")
    if text.endswith("\n"):
        lines.pop()  # the empty string after the last terminator
    return lines
