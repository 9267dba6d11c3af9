"""Tagging files and datasets with a :class:`tagger.prediction.Tagger`: the input format
detected, chunks streamed through the tagger's buffers (optionally one shard, optionally in
worker processes) with a progress bar, and the output written atomically.

The functions take the tagger first; ``Tagger.tag_file`` and ``Tagger.tag_dataset`` are them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tagger.data.conll import Chunk, iter_chunks, write_lines_atomic
from tagger.data.sniff import open_input, require_gold
from tagger.data.text import iter_text_chunks
from tagger.errors import DataError, TaggerError
from tagger.records import OUTPUT_FORMATS, TagCount, chunk_lines, text_lines

DATASET_MARK = "dataset_info.json"  # a folder holding it was saved by datasets: replaceable


def tag_file(
    tagger: Any,
    source: str,
    target: str = "-",
    input_format: str | None = None,
    output_format: str = "conll",
    token_column: int | None = None,
    tag_column: int | None = None,
    nbest: int = 1,
    workers: int = 1,
    progress: bool = False,
    write: str = "auto",
    shard: tuple[int, int] | None = None,
    split: str = "sentences",
) -> int:
    """Tag a CoNLL, CoNLL-U or text file (``-``: stdin) into ``target`` (``-``: stdout).

    The input format is detected from the content unless given (``sniff.detect_format``).
    CoNLL output keeps every input line, with the model's tag column replaced, or a column
    added (``write``: ``auto``, ``replace``, ``append``, ``gold-pred``; see
    ``sniff.choose_write``); JSONL output has one object per sentence (see ``Tagger.predict``).
    ``shard=(I, N)`` tags only the I-th (1-based) of N parts (:mod:`tagger.data.sharding`).
    Text (cut into sentences as ``split`` says, see ``Tagger.predict``) gives one JSONL record
    per document or line, standoff lines (one per entity) or CoNLL lines. Returns the number
    of tokens tagged (with ``.sentences``).
    """
    if output_format not in OUTPUT_FORMATS:
        raise TaggerError(f"unknown output format {output_format!r}")
    token_column, tag_column, write = _columns(tagger, token_column, tag_column, write)
    tag_field = tagger.cfg.data.tag_field
    opened = open_input(source, input_format, tagger.known_tags(), tag_column, tag_field, write)
    if opened.fmt == "text":
        options = (output_format, nbest, workers, progress, split, shard)
        return _tag_text(tagger, source, target, opened.lines, *options)
    if output_format == "standoff":
        raise TaggerError("--format standoff needs text input (--input-format text)")
    chunks = _file_chunks(tagger, source, opened, (token_column, tag_column), shard)
    jsonl = output_format == "jsonl"
    count = TagCount()
    bar = _progress(source, progress)
    read = _reading(chunks, bar, count) if progress else chunks
    tagged = tagger.tag_chunks(read, _buffer(workers), nbest if jsonl else None, workers)
    formats = (opened.fmt, tag_column, tag_field, opened.write)
    lines = chunk_lines(_within(bar, tagged), formats, jsonl, count)
    write_lines_atomic(target, _checked(lines, count, source, shard, "no sentences found"))
    return count.tally()


def _columns(
    tagger: Any, token_column: int | None, tag_column: int | None, write: str
) -> tuple[int, int, str]:
    """The token and tag columns (the model's unless given) and the write mode: a tag column
    named by the caller is the one to fill (``auto`` becomes ``replace``)."""
    data = tagger.cfg.data
    if tag_column is not None and write == "auto":
        write = "replace"
    token_column = data.token_column if token_column is None else token_column
    tag_column = data.tag_column if tag_column is None else tag_column
    return token_column, tag_column, write


def _file_chunks(
    tagger: Any, source: str, opened: Any, columns: tuple[int, int], shard: tuple[int, int] | None
) -> Iterable[Chunk]:
    """The chunks of a CoNLL or CoNLL-U file opened by ``sniff.open_input`` (gold tags
    required for ``gold-pred``), only those of ``shard`` when given."""
    reading = (opened.fmt, *columns, tagger.cfg.data.tag_field)
    chunks = iter_chunks(source, *reading, opened.lines)
    if opened.write == "gold-pred":
        chunks = require_gold(source, chunks)
    if shard is not None:  # a second reading of the file counts its sentences first
        from tagger.data.sharding import shard_chunks

        again = iter_chunks(source, *reading)
        chunks = shard_chunks(again, chunks, shard, tagger.network.document_level, source)
    return chunks


def _tag_text(
    tagger: Any,
    source: str,
    target: str,
    lines: Iterable[tuple[int, str]],
    output_format: str,
    nbest: int,
    workers: int,
    progress: bool,
    split: str,
    shard: tuple[int, int] | None,
) -> int:
    """:func:`tag_file` for raw text: chunks of sentences with offsets, records out. A
    shard holds whole documents, so that no record is cut."""
    chunks: Iterable[Any] = iter_text_chunks(source, split, lines)
    if shard is not None:
        from tagger.data.sharding import shard_chunks

        again = iter_text_chunks(source, split)
        chunks = shard_chunks(again, chunks, shard, True, source)
    detailed = None if output_format == "conll" else nbest
    count = TagCount()
    bar = _progress(source, progress)
    tagged = tagger.tag_chunks(chunks, _buffer(workers), detailed, workers)
    out = text_lines(_text_counted(bar, tagged, count, progress), output_format)
    write_lines_atomic(target, _checked(out, count, source, shard, "no text found"))
    return count.tally()


def _buffer(workers: int) -> int:
    """Sentences per buffer: smaller ones with workers, to keep every worker busy."""
    return 8192 if workers == 1 else 256


def _progress(source: str, enabled: bool) -> Any:
    """The bar for ``source``: MB done of MB when its size is known, else sentences."""
    from tagger.progress import Progress

    size = _plain_file_size(source)
    return Progress(f"tagging {source}", size, enabled=enabled, in_bytes=size is not None)


def _within(bar: Any, pairs: Iterable[Any]) -> Iterator[Any]:
    """``pairs`` passed through while ``bar`` is shown."""
    with bar:
        yield from pairs


def _reading(chunks: Iterable[Chunk], bar: Any, count: TagCount) -> Iterator[Chunk]:
    """Pass ``chunks`` through, moving ``bar`` as they are read (before they are tagged)."""
    for chunk in chunks:  # characters + line ends: the bytes of an ASCII file
        size = sum(map(len, chunk.lines)) + len(chunk.lines) if bar.in_bytes else 1
        bar.advance(size, tokens=count.tokens)
        yield chunk


def _text_counted(
    bar: Any, pairs: Iterable[tuple[Any, Any]], count: TagCount, progress: bool
) -> Iterator[tuple[Any, Any]]:
    """Tagged text chunks passed through, their tokens counted, while ``bar`` is shown."""
    with bar:
        for chunk, result in pairs:
            count.add(len(chunk.tokens))
            if progress:  # the characters read for it (or a record, without a size)
                step = chunk.size if bar.in_bytes else int(chunk.row == 0)
                bar.advance(step, tokens=count.tokens)
            yield chunk, result


def _checked(
    lines: Iterable[str], count: TagCount, source: str, shard: Any, message: str
) -> Iterator[str]:
    """``lines``, then a DataError if nothing was tagged (a shard may be empty; its input is
    not), raised before the atomic write keeps anything."""
    yield from lines
    if not count.tokens and shard is None:
        raise DataError(source, None, message)


def _plain_file_size(source: str) -> int | None:
    """Bytes of an uncompressed regular file; None for stdin, gzip and anything else."""
    path = Path(source)
    if source == "-" or source.endswith(".gz") or not path.is_file():
        return None
    return path.stat().st_size


def tag_dataset(tagger: Any, spec: str, target: str, shard: tuple[int, int] | None = None) -> int:
    """Tag a ``datasets`` dataset (``hf:NAME[:SPLIT]``, or a folder written by
    ``save_to_disk``) as :func:`tag_file` tags a file: in the same buffers, with each row's
    document (its ``doc`` column; a dataset without one is one document, like a CoNLL file
    without ``-DOCSTART-`` lines). ``shard=(I, N)``: only the I-th (1-based) of N contiguous
    parts (``Dataset.shard``).

    ``target`` ending in ``.jsonl`` (or ``-``) gets one ``{"tokens", "tags"}`` line per
    sentence; otherwise the dataset, its own columns kept and ``pred_tags`` added, is saved
    there. Returns the number of tokens tagged (with ``.sentences``).
    """
    from tagger.atomic import atomic_dir, check_dir_target, check_target
    from tagger.data.dataset import open_hub

    as_lines = target == "-" or target.endswith(".jsonl")
    if as_lines:
        check_target(target)
    else:
        check_dir_target(target, DATASET_MARK)
    data = open_hub(spec.removeprefix("hf:"))  # its own columns, none of ours
    if shard is not None:
        data = data.shard(num_shards=shard[1], index=shard[0] - 1, contiguous=True)
    has_doc = "doc" in data.column_names
    rows = data.select_columns(["tokens", "doc"] if has_doc else ["tokens"])
    pairs = ((row["tokens"], row["doc"] if has_doc else 0) for row in rows)  # lazily
    count = TagCount()
    if as_lines:
        write_lines_atomic(target, _dataset_lines(tagger.tag_in_buffers(pairs), count))
        return count.tally()
    predicted = []
    for _, tags in tagger.tag_in_buffers(pairs):
        predicted.append(tags)
        count.add(len(tags))
    tagged = data.add_column("pred_tags", predicted)
    with atomic_dir(target, DATASET_MARK) as staging:
        tagged.save_to_disk(str(staging))
    return count.tally()


def _dataset_lines(tagged: Iterable[tuple[list[str], list[str]]], count: TagCount) -> Iterator[str]:
    """One ``{"tokens", "tags"}`` JSON line per tagged sentence, counted."""
    for tokens, tags in tagged:
        count.add(len(tokens))
        yield json.dumps({"tokens": tokens, "tags": tags}, ensure_ascii=False)
