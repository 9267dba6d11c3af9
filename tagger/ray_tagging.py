"""Tagging on a Ray cluster with Ray Data (the optional extra ``tagger[ray]``).

Each input file is read by a Ray task into groups of chunks (whole documents for
document-level models, as ``tag_file`` cuts them); ``map_batches`` sends each group to a
:class:`TaggerActor`, which loads the model once and formats the group's output lines exactly as
``tag_file`` does; the driver writes each input's lines in input order (``preserve_order``) to
its target, atomically. Input files must be readable at the same path on every Ray node.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tagger.data.conll import Chunk, Sentence, write_lines_atomic
from tagger.errors import DataError, TaggerError

GROUP = 256  # sentences per map_batches row: small enough to keep every actor busy
# Ray hands a block to one actor at a time, and the default block (128 MB) would hold a whole
# file's groups: small blocks, about one group each, let every actor take part.
BLOCK_BYTES = 1 << 16


def _encode(chunk: Chunk) -> list[Any]:
    """A chunk as JSON-ready lists (Ray rows stay Arrow strings, never pickled objects)."""
    s = chunk.sentence
    sentence = None if s is None else [s.tokens, s.tags, s.doc, s.line]
    return [chunk.lines, sentence, chunk.token_rows]


def _decode(raw: list[Any]) -> Chunk:
    lines, sentence, rows = raw
    return Chunk(lines, None if sentence is None else Sentence(*sentence), rows)


def _read(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A ``flat_map`` function: one input row (``source``, ``index``, ``settings``: JSON of
    :func:`_settings`) -> rows of chunk groups. A reading error becomes a last row with
    ``error`` set, which the driver raises in order (Ray cannot carry a DataError back)."""
    from tagger.buffers import groups
    from tagger.data.conll import iter_chunks
    from tagger.data.sniff import require_gold

    settings = json.loads(row["settings"])
    fmt, token_column, tag_column, tag_field, write = settings["columns"]
    chunks = iter_chunks(row["source"], fmt, token_column, tag_column, tag_field)
    if write == "gold-pred":
        chunks = require_gold(row["source"], chunks)
    try:
        for group in groups(chunks, GROUP, settings["whole_docs"]):
            payload = json.dumps([_encode(c) for c in group], ensure_ascii=False)
            yield {
                "input": row["index"],
                "chunks": payload,
                "settings": row["settings"],
                "error": "",
            }
    except TaggerError as exc:
        yield {
            "input": row["index"],
            "chunks": "[]",
            "settings": row["settings"],
            "error": str(exc),
        }


class TaggerActor:
    """A Ray actor: the model, loaded once, tags and formats groups of chunks."""

    def __init__(self, run_dir: str, threads: int, jsonl: bool, nbest: int) -> None:
        import torch

        from tagger.prediction import Tagger

        torch.set_num_threads(threads)
        self.tagger = Tagger.load(run_dir)
        self.jsonl, self.nbest = jsonl, nbest

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        texts, counts, sentences = [], [], []
        for payload, settings in zip(batch["chunks"], batch["settings"]):
            fmt, _, tag_column, tag_field, write = json.loads(settings)["columns"]
            chunks = [_decode(c) for c in json.loads(payload)]
            lines, tokens, tagged = self._format(chunks, (fmt, tag_column, tag_field, write))
            texts.append("".join(line + "\n" for line in lines))
            counts.append(tokens)
            sentences.append(tagged)
        out = {"input": batch["input"], "text": texts, "tokens": counts, "sentences": sentences}
        return {**out, "error": batch["error"]}

    def _format(self, chunks: list[Chunk], columns: tuple[Any, ...]) -> tuple[list[str], int, int]:
        """The group's output lines, as ``Tagger.tag_file`` writes them, and its token and
        sentence counts."""
        from tagger.records import TagCount, chunk_lines

        count = TagCount()
        nbest = self.nbest if self.jsonl else None
        tagged = self.tagger.tag_chunks(chunks, len(chunks) + 1, nbest)
        return list(chunk_lines(tagged, columns, self.jsonl, count)), count.tokens, count.sentences


def tag_with_ray(
    run_dir: str | Path,
    source: str,
    target: str,
    address: str,
    input_format: str | None = None,
    output_format: str = "conll",
    actors: int = 2,
    nbest: int = 1,
    columns: tuple[int | None, int | None] = (None, None),
    write: str = "auto",
) -> int:
    """``tagger predict --ray ADDRESS``: tag one file on a Ray cluster (see :func:`tag_files`;
    ``columns``: the token and tag column, None for the model's)."""
    try:
        import ray
    except ImportError:
        raise TaggerError(
            "--ray needs Ray: pip install 'ray[data]' (or, in the tagger checkout, "
            "pip install -e '.[ray]'; 'tagger' on PyPI is another project)"
        ) from None
    started = connect(address)
    try:
        options = {"nbest": nbest, "columns": columns, "write": write}
        return tag_files(
            run_dir, [source], [target], input_format, output_format, actors, **options
        )
    finally:
        if started:
            ray.shutdown()


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` (``local``: start one here with 2 CPUs; ``auto``: the
    cluster this machine belongs to). Returns whether this call started Ray (then shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            ray.init(num_cpus=2, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except Exception as exc:  # Ray raises bare Exceptions (e.g. a start-up timeout)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TaggerError(f"--ray {address}: Ray did not start or connect: {reason}") from None
    return True


def tag_files(
    run_dir: str | Path,
    sources: list[str],
    targets: list[str],
    input_format: str | None = None,
    output_format: str = "conll",
    actors: int = 2,
    threads: int = 1,
    nbest: int = 1,
    columns: tuple[int | None, int | None] = (None, None),
    write: str = "auto",
) -> int:
    """Tag each of ``sources`` into the matching ``targets`` on the connected Ray cluster with
    ``actors`` model replicas of ``threads`` torch threads each: the same bytes as
    ``tagger predict`` with the same options. Returns the number of tokens tagged (with
    ``.sentences``, as ``Tagger.tag_file`` returns it)."""
    import ray

    from tagger.prediction import Tagger

    if len(sources) != len(targets):
        raise TaggerError("tag_files: one target per source")
    tagger = Tagger.load(run_dir)
    rows = []
    for index, source in enumerate(sources):
        settings = _settings(tagger, source, input_format, columns, write)
        rows.append({"source": str(Path(source).resolve()), "index": index, "settings": settings})
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # rows come back in input order
    context.enable_progress_bars = False  # the CLI's stderr is for errors
    context.target_max_block_size = BLOCK_BYTES
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    data = ray.data.from_items(rows).flat_map(_read, num_cpus=0)  # the actors take the CPUs
    tagged = data.map_batches(
        TaggerActor,
        fn_constructor_args=(str(run_dir), threads, output_format == "jsonl", nbest),
        batch_size=1,
        concurrency=actors,
        num_cpus=threads,
    )
    return _write(tagged, sources, targets)


def _settings(
    tagger: Any, source: str, fmt: str | None, columns: tuple[Any, Any], write: str
) -> str:
    """How ``tag_file`` would read and write ``source`` (format by content, write mode), as
    JSON for the Ray rows; raises the same one-line errors before anything runs."""
    from tagger.data.sniff import open_input

    if source == "-" or not Path(source).is_file():
        raise DataError(source, None, "input file not found (Ray reads files, not stdin)")
    data = tagger.cfg.data
    token_column = data.token_column if columns[0] is None else columns[0]
    if columns[1] is not None and write == "auto":
        write = "replace"  # a tag column named by the caller is the one to fill
    tag_column = data.tag_column if columns[1] is None else columns[1]
    found = open_input(source, fmt, tagger.known_tags(), tag_column, data.tag_field, write)
    chosen = [found.fmt, token_column, tag_column, data.tag_field, found.write]
    return json.dumps({"columns": chosen, "whole_docs": tagger.network.document_level})


def _write(tagged: Any, sources: list[str], targets: list[str]) -> int:
    """Write each input's rows (in order) to its target; a failure leaves no partial file.
    Returns the tokens (and ``.sentences``) of all inputs."""
    count, done = [0, 0], set()
    rows = _unwrapped(tagged.iter_rows())
    for index, group in itertools.groupby(rows, key=lambda row: int(row["input"])):
        _write_one(sources[index], targets[index], group, count)
        done.add(index)
    for index, source in enumerate(sources):
        if index not in done:  # an input without a single chunk (an empty file)
            raise DataError(source, None, "no sentences found")
    from tagger.records import Tally

    total = Tally(count[0])
    total.sentences = count[1]
    return total


def _write_one(source: str, target: str, rows: Iterator[dict[str, Any]], count: list[int]) -> None:
    """One input's rows to ``target``, adding its tokens and sentences to ``count``."""
    start = count[0]

    def lines() -> Iterator[str]:
        for row in rows:
            if row["error"]:
                raise TaggerError(str(row["error"]))
            count[0] += int(row["tokens"])
            count[1] += int(row["sentences"])
            if row["text"]:  # a group's lines, less the last line end (write_lines adds it)
                yield row["text"][:-1]
        if count[0] == start:
            raise DataError(source, None, "no sentences found")

    write_lines_atomic(target, lines())


def _unwrapped(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Ray's rows; a TaggerError raised in a Ray task comes out as itself (one line)."""
    try:
        yield from rows
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, TaggerError):
            cause = getattr(cause, "cause", None) or cause.__cause__ or cause.__context__
        if cause is not None:
            raise TaggerError(str(cause)) from None
        raise
