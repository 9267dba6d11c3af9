"""Batched, streaming tagging of token lists, strings and files with a trained model."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import torch

from tagger import windows
from tagger.data.batching import Encoded, bucket_batches, document_batches, make_batch
from tagger.data.conll import Chunk, Sentence, format_chunk, iter_chunks, write_lines_atomic
from tagger.data.schemes import convert, get_spans
from tagger.data.sniff import KnownTags, format_of, open_input, require_gold
from tagger.data.text import input_kind, iter_text_chunks, split_text
from tagger.data.vocab import Vocab
from tagger.errors import DataError, TaggerError
from tagger.records import (
    OUTPUT_FORMATS,
    Span,
    TaggedSentence,
    TaggedText,
    tagged_text,
    text_lines,
)
from tagger.runtime import network_device, pick_device


def _batches(
    network: Any,
    vocab: Vocab,
    sentences: Sequence[Sequence[str]],
    batch_size: int,
    shared: bool = True,
    docs: Sequence[int] | None = None,
) -> Iterator[tuple[list[int], Any, torch.Tensor | None]]:
    """(sentence indices, Batch, character table) over the non-empty sentences, similar lengths
    together (whole documents together, for a network with document-level attention and
    ``docs``, each sentence's document id).

    With ``shared``, the character model runs once per distinct word of ``sentences``, shortest
    words first in chunks (little padding), before the first batch; call it without gradients.
    Otherwise (``shared=False``) each batch carries its own distinct words and the table is None.
    """
    device = network_device(network)
    encoded = Encoded(vocab, sentences, None, network.max_word_length, docs)
    table = _char_table(network, encoded, device) if shared else None
    lengths = [len(s) for s in sentences]
    whole_docs = docs is not None and network.document_level
    if whole_docs:
        order = document_batches(docs, batch_size)
    else:  # long sentences in smaller batches: attention memory grows with T * T
        order = windows.cap(bucket_batches(lengths, batch_size), lengths)
    for batch_ids in order:
        batch_ids = [i for i in batch_ids if lengths[i]]  # an empty sentence gets no tags
        if batch_ids:
            yield batch_ids, encoded.batch(batch_ids, shared).to(device), table


def _char_table(network: Any, encoded: Encoded, device: torch.device) -> torch.Tensor | None:
    """(U, F) character vectors of every type of ``encoded``; row 0 (padding) zero."""
    embedder = network.embedder
    if embedder.chars is None:
        return None
    table = torch.zeros(len(encoded.types), embedder.chars.out_dim, device=device)
    for rows, chars in encoded.char_chunks():
        table[rows.to(device)] = embedder.chars(chars.to(device)).to(table.dtype)  # (n, F)
    return table


def decode(
    network: Any,
    vocab: Vocab,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 256,
    docs: Sequence[int] | None = None,
) -> list[list[str]]:
    """Model-scheme tags for each token list, in input order (batched by similar length).
    ``docs``: each sentence's document id, for document-level attention. Sentences longer
    than ``windows.WINDOW`` tokens are decoded in overlapping windows (bounded memory)."""
    cut = windows.split(sentences, docs)
    if not cut.whole:  # decode the windows (none is cut again), then join them
        tags = decode(network, vocab, cut.pieces, batch_size, cut.docs)
        return cut.gather(tags, cut.cuts(tags))
    out: list[list[str]] = [[] for _ in sentences]
    was_training = network.training
    network.eval()
    names = vocab.tags
    with torch.inference_mode():
        for batch_ids, batch, table in _batches(network, vocab, sentences, batch_size, docs=docs):
            for row, i in zip(network.decode(batch, table).tolist(), batch_ids):  # (B, T)
                out[i] = [names[t] for t in row[: len(sentences[i])]]
    network.train(was_training)
    return out


@dataclass
class Decoded:
    """A sentence's best path (model-scheme tags), its probability, each token's marginal
    probability of its tag, and the n-best paths with their probabilities."""

    tags: list[str]
    probability: float
    confidences: list[float]
    alternatives: list[tuple[list[str], float]]


def decode_detailed(
    network: Any,
    vocab: Vocab,
    sentences: Sequence[Sequence[str]],
    k: int = 1,
    batch_size: int = 256,
    docs: Sequence[int] | None = None,
) -> list[Decoded]:
    """Like :func:`decode`, with probabilities, token marginals and the ``k`` best paths.
    A sentence decoded in windows gets its joined best path only, with the product of the
    windows' path probabilities."""
    cut = windows.split(sentences, docs)
    if not cut.whole:  # decode the windows (none is cut again), then join them
        found = decode_detailed(network, vocab, cut.pieces, k, batch_size, cut.docs)
        paths = windows.join_paths(cut, [(d.tags, d.confidences, d.probability) for d in found])
        return [
            found[group[0]] if len(group) == 1 else Decoded(tags, prob, conf, [(tags, prob)])
            for group, (tags, conf, prob) in zip(cut.groups, paths)
        ]
    out = [Decoded([], 1.0, [], []) for _ in sentences]
    was_training = network.training
    network.eval()
    with torch.no_grad():  # not inference_mode: the marginals take a gradient of log Z
        for batch_ids, batch, table in _batches(network, vocab, sentences, batch_size, docs=docs):
            found = network.decode_nbest(batch, k, table)
            best = found["paths"][:, 0]  # (B, T)
            chosen = found["marginals"].gather(2, best.unsqueeze(2)).squeeze(2).tolist()  # (B, T)
            paths, probs = found["paths"].tolist(), found["path_probs"].tolist()  # (B, k, T)
            real = found["real"].tolist()  # (B, k): false where a sentence has fewer paths
            for row, i in enumerate(batch_ids):
                n = len(sentences[i])
                options = [
                    ([vocab.tags[t] for t in path[:n]], prob)
                    for path, prob, ok in zip(paths[row], probs[row], real[row])
                    if ok
                ]
                out[i] = Decoded(options[0][0], options[0][1], chosen[row][:n], options)
    network.train(was_training)
    return out


class Tally(int):
    """The number of tokens tagged (an int, as it always was) and ``sentences``, their count."""

    sentences: int = 0


def _tally(tokens: int, sentences: int) -> Tally:
    out = Tally(tokens)
    out.sentences = sentences
    return out


class Tagger:
    """A trained model ready to tag.

    >>> tagger = Tagger.load("runs/demo")  # doctest: +SKIP
    >>> tagger.predict("EU rejects German call.").spans[0].text  # doctest: +SKIP
    'EU'
    >>> tagger.predict([["EU", "rejects", "German", "call"]])[0].tags  # doctest: +SKIP
    ['B-ORG', 'O', 'B-MISC', 'O']
    """

    def __init__(
        self,
        cfg: Any,
        vocab: Vocab,
        network: Any,
        batch_size: int = 256,
        run_dir: Path | None = None,
    ) -> None:
        self.cfg, self.vocab, self.network = cfg, vocab, network
        self.batch_size, self.run_dir = batch_size, run_dir

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Tagger:
        """Load a model directory written by ``tagger train`` (``device``: cpu, cuda, auto)."""
        from tagger.archive import load_model

        cfg, vocab, network, _ = load_model(run_dir)
        network.to(pick_device(device))
        return cls(cfg, vocab, network, cfg.train.eval_batch_size, Path(run_dir))

    def known_tags(self) -> KnownTags:
        """The model's labels, to recognise its tag column in files."""
        return KnownTags.of(self.vocab.tags, self.vocab.scheme)

    def _to_output(self, tags: list[str]) -> list[str]:
        """Model-scheme tags in the scheme of the training files."""
        source, target = self.vocab.model_scheme, self.vocab.scheme
        return tags if source in (target, "none") else convert(tags, source, target)

    def tag(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None = None
    ) -> list[list[str]]:
        """Tags for each token list, in the scheme of the model's training files, exactly as
        :meth:`tag_file` tags a file of these sentences. ``docs``: each sentence's document id
        (for document-level attention); without it the sentences are one document, as the
        sentences of a file without ``-DOCSTART-`` lines are. Sentences longer than
        ``windows.WINDOW`` tokens are decoded in overlapping windows."""
        pairs = zip(sentences, _documents(sentences, docs), strict=True)
        return [tags for _, tags in self.tag_in_buffers(pairs)]

    def _decode(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None = None
    ) -> list[list[str]]:
        """Model-scheme tags of one buffer (the ONNX runtime tagger replaces this)."""
        return decode(self.network, self.vocab, sentences, self.batch_size, docs)

    @overload
    def predict(self, texts: str, **options: Any) -> TaggedText: ...

    @overload
    def predict(self, texts: Sequence[str], **options: Any) -> list[TaggedText]: ...

    @overload
    def predict(self, texts: Sequence[Sequence[str]], **options: Any) -> list[TaggedSentence]: ...

    def predict(
        self,
        texts: str | Sequence[str] | Sequence[Sequence[str]],
        tokenized: bool | None = None,
        nbest: int = 1,
        docs: Sequence[int] | None = None,
        split: str = "sentences",
    ) -> TaggedText | list[TaggedText] | list[TaggedSentence]:
        """Tag one text, a list of texts, or a list of token lists.

        A string is tokenised and cut into sentences (``split``: ``sentences`` for running
        text, ``wrapped`` for running text with wrapped lines, ``lines`` for one sentence per
        line, ``pretokenized`` for one sentence per line of space-separated tokens) and gives a
        :class:`TaggedText` whose tokens and spans carry character offsets into it; token lists
        are tagged as they are and give :class:`TaggedSentence` objects. Anything else is a
        ``TypeError`` (so are strings with ``tokenized=True``). Each sentence has tags, spans
        with confidences, token marginals, the best path's probability and, with ``nbest`` > 1,
        the ``nbest`` best paths. ``docs``: each text's (or token list's) document id, as for
        :meth:`tag` (default: each text its own document; token lists one document).
        """
        kind, items = input_kind(texts, tokenized)
        if kind == "tokens":
            return self._predict_tokens([list(t) for t in items], nbest, docs)
        found = self._predict_texts(items, nbest, docs, split)
        return found[0] if kind == "text" else found

    def _predict_tokens(
        self, sentences: list[list[str]], nbest: int, docs: Sequence[int] | None
    ) -> list[TaggedSentence]:
        """Token lists tagged in :meth:`tag_file`'s buffers."""
        chunks = (
            Chunk([], Sentence(tokens, None, doc, 0), [])
            for tokens, doc in zip(sentences, _documents(sentences, docs), strict=True)
        )
        return [found for _, found in self.tag_chunks(chunks, nbest=nbest)]

    def _predict_buffer(
        self, sentences: list[list[str]], docs: list[int], nbest: int
    ) -> list[TaggedSentence]:
        """:meth:`predict` of one buffer."""
        found = decode_detailed(self.network, self.vocab, sentences, nbest, self.batch_size, docs)
        return [self._tagged(s, d, nbest > 1) for s, d in zip(sentences, found)]

    def _predict_texts(
        self, texts: list[str], nbest: int, docs: Sequence[int] | None, split: str
    ) -> list[TaggedText]:
        """Split each text into sentences, tag them all in one go, put them back per text."""
        pieces = [split_text(text, split) for text in texts]
        doc_ids = range(len(texts)) if docs is None else docs
        flat = [[t.text for t in s] for sentences in pieces for s in sentences]
        ids = [doc for doc, sentences in zip(doc_ids, pieces) for _ in sentences]
        tagged = iter(self._predict_tokens(flat, nbest, ids))
        return [
            tagged_text(t, [(s, next(tagged)) for s in found]) for t, found in zip(texts, pieces)
        ]

    def _tagged(self, tokens: list[str], found: Decoded, alternatives: bool) -> TaggedSentence:
        tags = self._to_output(found.tags)
        spans = []
        if self.vocab.scheme != "none":
            for kind, start, end in get_spans(tags, self.vocab.scheme):
                confidence = min(found.confidences[start:end])
                spans.append(Span(kind, start, end, " ".join(tokens[start:end]), confidence))
        options = [{"tags": self._to_output(t), "probability": p} for t, p in found.alternatives]
        return TaggedSentence(
            tokens,
            tags,
            spans,
            found.confidences,
            found.probability,
            options if alternatives else [],
        )

    def explain(self, tokens: Sequence[str]) -> tuple[TaggedSentence, list[tuple[str, Any]]]:
        """Tag one sentence and return each attention layer's weights: ``(type, array)`` with
        (T, T) weights over tokens or (T, L) over labels (None for layers without weights)."""
        from tagger.model.attention import LAYERS

        names = {cls: name for name, cls in LAYERS.items()}
        if len(tokens) > windows.WINDOW:  # the heat map is (T, T): bounded like decoding
            raise TaggerError(f"explain takes at most {windows.WINDOW} tokens, got {len(tokens)}")
        batch = make_batch(self.vocab, [list(tokens)], None, self.network.max_word_length)
        batch = batch.to(network_device(self.network))
        self.network.eval()
        with torch.no_grad():
            _, weights = self.network.encode(batch)
        layers = [
            (names[type(layer)], None if w is None else w[0].float().cpu().numpy())
            for layer, w in zip(self.network.attention, weights)
        ]
        return self.predict([list(tokens)], tokenized=True)[0], layers

    def tag_chunks(
        self,
        chunks: Iterable[Chunk],
        buffer: int = 8192,
        nbest: int | None = None,
        workers: int = 1,
    ) -> Iterator[tuple[Chunk, Any]]:
        """Tag a stream of chunks ``buffer`` sentences at a time, keeping their order.

        Yields ``(chunk, tags)`` (None for chunks without a sentence); with ``nbest`` set,
        ``(chunk, TaggedSentence)`` instead. With ``workers`` > 1, buffers are tagged in that
        many processes, at most ``2 * workers`` buffers in flight, so memory stays bounded.
        """
        groups = _groups(chunks, buffer, self.network.document_level)
        if workers <= 1:
            for group in groups:
                yield from _attach(group, self._results(*_sentences(group), nbest))
            return
        yield from self._parallel(groups, nbest, workers)

    def _results(self, sentences: list[list[str]], docs: list[int], nbest: int | None) -> list[Any]:
        if not sentences:
            return []
        if nbest is None:  # windows here too, for runtimes that replace _decode
            cut = windows.split(sentences, docs)
            tags = self._decode(cut.pieces, cut.docs)
            tags = tags if cut.whole else cut.gather(tags, cut.cuts(tags))
            return [self._to_output(t) for t in tags]
        return self._predict_buffer(sentences, docs, nbest)

    def _parallel(
        self, groups: Iterator[list[Chunk]], nbest: int | None, workers: int
    ) -> Iterator[tuple[Chunk, Any]]:
        import multiprocessing

        if self.run_dir is None:
            raise TaggerError("tagging with workers needs a model loaded with Tagger.load")
        context = multiprocessing.get_context("spawn")  # no fork of a process holding OpenMP
        slots = context.Value("i", 0)  # each worker takes the next number: its GPU, if any
        init = (str(self.run_dir), max(1, torch.get_num_threads() // workers), slots)
        with context.Pool(workers, initializer=_worker_init, initargs=init) as pool:
            window: deque[tuple[list[Chunk], Any]] = deque()
            for group in groups:
                job = pool.apply_async(_worker_tag, (*_sentences(group), nbest))
                window.append((group, job))
                if len(window) >= 2 * workers:
                    done, result = window.popleft()
                    yield from _attach(done, result.get())
            while window:
                done, result = window.popleft()
                yield from _attach(done, result.get())

    def tag_file(
        self,
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
        ``sniff.choose_write``); JSONL output has one object per sentence (see :meth:`predict`).
        ``shard=(I, N)`` tags only the I-th (1-based) of N parts (:mod:`tagger.data.sharding`).
        Text (cut into sentences as ``split`` says, see :meth:`predict`) gives one JSONL record
        per document or line, standoff lines (one per entity) or CoNLL lines. Returns the number
        of tokens tagged.
        """
        if output_format not in OUTPUT_FORMATS:
            raise TaggerError(f"unknown output format {output_format!r}")
        data = self.cfg.data
        token_column = data.token_column if token_column is None else token_column
        if tag_column is not None and write == "auto":
            write = "replace"  # a tag column named by the caller is the one to fill
        tag_column = data.tag_column if tag_column is None else tag_column
        found = open_input(
            source, input_format, self.known_tags(), tag_column, data.tag_field, write
        )
        fmt, write = found.fmt, found.write
        if fmt == "text":
            options = (output_format, nbest, workers, progress, split, shard)
            return self._tag_text(source, target, found.lines, *options)
        if output_format == "standoff":
            raise TaggerError("--format standoff needs text input (--input-format text)")
        chunks = iter_chunks(source, fmt, token_column, tag_column, data.tag_field, found.lines)
        if write == "gold-pred":
            chunks = require_gold(source, chunks)
        if shard is not None:  # a second reading of the file counts its sentences first
            from tagger.data.sharding import shard_chunks

            again = iter_chunks(source, fmt, token_column, tag_column, data.tag_field)
            chunks = shard_chunks(again, chunks, shard, self.network.document_level, source)
        columns = (fmt, tag_column, data.tag_field, write)
        jsonl = output_format == "jsonl"
        count = [0, 0]  # tokens, sentences

        def lines() -> Iterator[str]:
            from tagger.progress import Progress

            buffer = 8192 if workers == 1 else 256  # smaller shards keep every worker busy
            size = _plain_file_size(source)  # the bar shows MB done of MB when it is known
            bar = Progress(f"tagging {source}", size, enabled=progress, in_bytes=size is not None)
            with bar:
                read = _reading(chunks, bar, size is not None, count) if progress else chunks
                tagged = self.tag_chunks(read, buffer, nbest if jsonl else None, workers)
                for chunk, result in tagged:
                    if result is None:
                        if not jsonl:
                            yield from format_chunk(chunk, None, *columns)
                        continue
                    count[0] += len(result.tokens if jsonl else result)
                    count[1] += 1
                    if jsonl:
                        yield json.dumps(result.to_dict(), ensure_ascii=False)
                    else:
                        yield from format_chunk(chunk, result, *columns)
            if not count[0] and shard is None:  # a part may be empty; its input is not
                raise DataError(source, None, "no sentences found")

        write_lines_atomic(target, lines())
        return _tally(*count)

    def _tag_text(
        self,
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
        """:meth:`tag_file` for raw text: chunks of sentences with offsets, records out. A
        shard holds whole documents, so that no record is cut."""
        from tagger.progress import Progress

        chunks: Iterable[Any] = iter_text_chunks(source, split, lines)
        if shard is not None:
            from tagger.data.sharding import shard_chunks

            again = iter_text_chunks(source, split)
            chunks = shard_chunks(again, chunks, shard, True, source)
        buffer = 8192 if workers == 1 else 256  # smaller shards keep every worker busy
        detailed = None if output_format == "conll" else nbest
        count = [0]

        def watched() -> Iterator[tuple[Any, Any]]:
            size = _plain_file_size(source)
            bar = Progress(f"tagging {source}", size, enabled=progress, in_bytes=size is not None)
            with bar:
                for chunk, result in self.tag_chunks(chunks, buffer, detailed, workers):
                    count[0] += len(chunk.tokens)
                    if progress:  # the characters read for it (or a record, without a size)
                        bar.advance(chunk.size if size else int(chunk.row == 0), tokens=count[0])
                    yield chunk, result
            if not count[0] and shard is None:  # a part may be empty; its input is not
                raise DataError(source, None, "no text found")

        write_lines_atomic(target, text_lines(watched(), output_format))
        return count[0]

    def tag_dataset(self, spec: str, target: str, shard: tuple[int, int] | None = None) -> int:
        """Tag a ``datasets`` dataset (``hf:NAME[:SPLIT]``, or a folder written by
        ``save_to_disk``) as :meth:`tag_file` tags a file: in the same buffers, with each row's
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
        count = [0, 0]
        if as_lines:

            def dump() -> Iterator[str]:
                for tokens, tags in self.tag_in_buffers(pairs):
                    count[0], count[1] = count[0] + len(tokens), count[1] + 1
                    yield json.dumps({"tokens": tokens, "tags": tags}, ensure_ascii=False)

            write_lines_atomic(target, dump())
            return _tally(*count)
        predicted = [tags for _, tags in self.tag_in_buffers(pairs)]
        tagged = data.add_column("pred_tags", predicted)
        with atomic_dir(target, DATASET_MARK) as staging:
            tagged.save_to_disk(str(staging))
        return _tally(sum(map(len, predicted)), len(predicted))

    def tag_in_buffers(
        self, sentences: Iterable[tuple[Sequence[str], int]]
    ) -> Iterator[tuple[list[str], list[str]]]:
        """``(tokens, tags)`` for each ``(tokens, document id)``, tagged in the buffers that
        :meth:`tag_file` uses for a file of the same sentences and documents (so the same
        tags: how sentences are grouped changes what document attention sees)."""
        chunks = (Chunk([], Sentence(list(tokens), None, doc, 0), []) for tokens, doc in sentences)
        for chunk, tags in self.tag_chunks(chunks):
            assert chunk.sentence is not None
            yield chunk.sentence.tokens, tags

    def tag_gold(self, path: str, input_format: str | None = None) -> tuple[Any, list[list[str]]]:
        """Read a gold file (a ``scoring.TaggedFile``) and tag its sentences with their
        documents, exactly as :meth:`tag_file` would tag the file."""
        from tagger.data.dataset import is_saved_dataset, load_hub
        from tagger.scoring import TaggedFile, read_tagged

        data = self.cfg.data
        if path.startswith("hf:") or is_saved_dataset(path):
            found = load_hub(path.removeprefix("hf:"), data.tag_field)
            gold = TaggedFile(path, found["tokens"], found["tags"], [], found["doc"])
        else:
            fmt = input_format or format_of(path, self.known_tags())
            gold = read_tagged(path, fmt, data.tag_column, data.tag_field, data.token_column)
        pred = [tags for _, tags in self.tag_in_buffers(zip(gold.tokens, gold.docs))]
        return gold, pred

    def evaluate(self, path: str, input_format: str | None = None) -> dict[str, Any]:
        """Tag a gold file (see :meth:`tag_gold`) and score the predictions against it
        (see :func:`scoring.score`)."""
        from tagger.scoring import score

        gold, pred = self.tag_gold(path, input_format)
        return score(gold.tags, pred, self.vocab.scheme)


def _documents(sentences: Sequence[Any], docs: Sequence[int] | None) -> Sequence[int]:
    """Each sentence's document id: ``docs``, or one document for all."""
    return [0] * len(sentences) if docs is None else docs


DATASET_MARK = "dataset_info.json"  # a folder holding it was saved by datasets: replaceable


def _reading(
    chunks: Iterable[Chunk], bar: Any, in_bytes: bool, count: list[int]
) -> Iterator[Chunk]:
    """Pass ``chunks`` through, moving ``bar`` as they are read (before they are tagged)."""
    for chunk in chunks:  # characters + line ends: the bytes of an ASCII file
        bar.advance(
            sum(map(len, chunk.lines)) + len(chunk.lines) if in_bytes else 1, tokens=count[0]
        )
        yield chunk


def _plain_file_size(source: str) -> int | None:
    """Bytes of an uncompressed regular file; None for stdin, gzip and anything else."""
    path = Path(source)
    if source == "-" or source.endswith(".gz") or not path.is_file():
        return None
    return path.stat().st_size


def _groups(
    chunks: Iterable[Chunk], buffer: int, whole_docs: bool = False
) -> Iterator[list[Chunk]]:
    """Consecutive chunks holding about ``buffer`` sentences each; with ``whole_docs`` cut
    between documents (but always by ``2 * buffer`` sentences, so memory stays bounded)."""
    pending: list[Chunk] = []
    count, last_doc = 0, None
    for chunk in chunks:
        sentence = chunk.sentence
        if sentence is not None:
            new_doc = sentence.doc != last_doc
            if count >= buffer and (not whole_docs or new_doc or count >= 2 * buffer):
                yield pending
                pending, count = [], 0
            count, last_doc = count + 1, sentence.doc
        pending.append(chunk)
    if pending:
        yield pending


def _sentences(group: list[Chunk]) -> tuple[list[list[str]], list[int]]:
    """The tokens and document ids of the group's sentences."""
    found = [c.sentence for c in group if c.sentence is not None]
    return [s.tokens for s in found], [s.doc for s in found]


def _attach(group: list[Chunk], results: list[Any]) -> Iterator[tuple[Chunk, Any]]:
    found = iter(results)
    for chunk in group:
        yield chunk, (next(found) if chunk.sentence is not None else None)


_WORKER: Tagger | None = None


def _worker_init(run_dir: str, threads: int, slots: Any) -> None:
    """Load the model once per worker: on GPU ``slot % count`` when there are GPUs."""
    global _WORKER
    with slots.get_lock():
        slot = slots.value
        slots.value += 1
    torch.set_num_threads(threads)
    gpus = torch.cuda.device_count()
    _WORKER = Tagger.load(run_dir, device=f"cuda:{slot % gpus}" if gpus else "cpu")


def _worker_tag(sentences: list[list[str]], docs: list[int], nbest: int | None) -> list[Any]:
    assert _WORKER is not None
    return _WORKER._results(sentences, docs, nbest)
