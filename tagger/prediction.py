"""The trained model ready to tag: :class:`Tagger` loads a model directory and tags token lists
and texts (tags, spans, marginals, n-best paths) and streams of chunks in buffers; files and
datasets go through :mod:`tagger.file_tagging`, decoding through a backend (torch by default)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import torch

from tagger import buffers, file_tagging, windows
from tagger.data.batching import make_batch
from tagger.data.conll import Chunk, Sentence
from tagger.data.schemes import convert, get_spans
from tagger.data.sniff import KnownTags, format_of
from tagger.data.text import input_kind, split_text
from tagger.data.vocab import Vocab
from tagger.decoding import Backend, Decoded, TorchBackend
from tagger.errors import TaggerError
from tagger.records import Span, TaggedSentence, TaggedText, tagged_text
from tagger.runtime import network_device, pick_device


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
        backend: Backend | None = None,
    ) -> None:
        """``backend`` decodes (default: the torch network, ``batch_size`` sentences a batch;
        ``export.OnnxBackend`` runs an exported graph)."""
        self.cfg, self.vocab, self.network = cfg, vocab, network
        self.backend = backend or TorchBackend(network, vocab, batch_size)
        self.batch_size, self.run_dir = self.backend.batch_size, run_dir
        self.quantize = "none"  # Tagger.load's option, for the worker processes' own loads

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        device: str = "cpu",
        batch_size: int | None = None,
        quantize: str = "none",
    ) -> Tagger:
        """Load a model directory written by ``tagger train`` (``device``: cpu, cuda, auto);
        ``batch_size`` sentences a batch (default: the model's ``train.eval_batch_size``);
        ``quantize="int8"``: LSTMs and linear layers in int8, CPU only (:mod:`tagger.quantize`)."""
        from tagger.archive import load_model
        from tagger.quantize import check_mode, quantize_network

        check_mode(quantize)  # before the model is read
        cfg, vocab, network, _ = load_model(run_dir)
        network = quantize_network(network.to(pick_device(device)), quantize)
        size = cfg.train.eval_batch_size if batch_size is None else batch_size
        tagger = cls(cfg, vocab, network, size, Path(run_dir))
        tagger.quantize = quantize
        return tagger

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
        tagged = self._predict_texts(items, nbest, docs, split)
        return tagged[0] if kind == "text" else tagged

    def _predict_tokens(
        self, sentences: list[list[str]], nbest: int, docs: Sequence[int] | None
    ) -> list[TaggedSentence]:
        """Token lists tagged in :meth:`tag_file`'s buffers."""
        chunks = (
            Chunk([], Sentence(tokens, None, doc, 0), [])
            for tokens, doc in zip(sentences, _documents(sentences, docs), strict=True)
        )
        return [tagged for _, tagged in self.tag_chunks(chunks, nbest=nbest)]

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
            tagged_text(text, [(tokens, next(tagged)) for tokens in sentences])
            for text, sentences in zip(texts, pieces)
        ]

    def _tagged(self, tokens: list[str], decoded: Decoded, alternatives: bool) -> TaggedSentence:
        """A decoded sentence in the training files' scheme, with its spans."""
        tags = self._to_output(decoded.tags)
        spans = []
        if self.vocab.scheme != "none":
            for kind, start, end in get_spans(tags, self.vocab.scheme):
                confidence = min(decoded.confidences[start:end])
                spans.append(Span(kind, start, end, " ".join(tokens[start:end]), confidence))
        options = [{"tags": self._to_output(t), "probability": p} for t, p in decoded.alternatives]
        return TaggedSentence(
            tokens,
            tags,
            spans,
            decoded.confidences,
            decoded.probability,
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
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.no_grad():
                _, weights = self.network.encode(batch)
        finally:
            self.network.train(was_training)
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
        groups = buffers.groups(chunks, buffer, self.network.document_level)
        if workers <= 1:
            for group in groups:
                yield from buffers.attach(
                    group, self.tag_buffer(*buffers.sentences_of(group), nbest)
                )
            return
        if self.run_dir is None:
            raise TaggerError("tagging with workers needs a model loaded with Tagger.load")
        load = functools.partial(Tagger.load, quantize=self.quantize)
        yield from buffers.in_workers(load, str(self.run_dir), groups, nbest, workers)

    def tag_buffer(
        self, sentences: list[list[str]], docs: list[int], nbest: int | None
    ) -> list[Any]:
        """One buffer's results: tags in the training files' scheme, or with ``nbest`` set
        :class:`TaggedSentence` objects (see :meth:`predict`)."""
        if not sentences:
            return []
        if nbest is None:  # windows here, so that every backend decodes bounded pieces
            cut = windows.split(sentences, docs)
            tags = self.backend.tags(cut.pieces, cut.docs)
            tags = tags if cut.whole else cut.gather(tags, cut.cuts(tags))
            return [self._to_output(t) for t in tags]
        decoded = self.backend.detailed(sentences, docs, nbest)
        return [self._tagged(s, d, nbest > 1) for s, d in zip(sentences, decoded)]

    tag_file = file_tagging.tag_file  # a function taking the tagger first
    tag_dataset = file_tagging.tag_dataset

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
        from tagger.scoring import Columns, TaggedFile, read_tagged

        data = self.cfg.data
        if path.startswith("hf:") or is_saved_dataset(path):
            hub = load_hub(path.removeprefix("hf:"), data.tag_field)
            gold = TaggedFile(path, hub["tokens"], hub["tags"], [], hub["doc"])
        else:
            fmt = input_format or format_of(path, self.known_tags())
            columns = Columns(fmt, data.tag_column, data.tag_field, data.token_column)
            gold = read_tagged(path, columns)
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
