"""Decoding shared by training (dev scores) and tagging: batches of similar lengths, the
character table computed once per distinct word, Viterbi tags, marginals and n-best paths;
the torch backend that :class:`tagger.prediction.Tagger` decodes with by default."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from tagger import windows
from tagger.data.batching import Encoded, bucket_batches, document_batches
from tagger.data.vocab import Vocab
from tagger.runtime import network_device


def batches(
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
    table = char_table(network, encoded, device) if shared else None
    lengths = [len(s) for s in sentences]
    whole_docs = docs is not None and network.document_level
    if whole_docs:
        order = document_batches(docs, batch_size, None, lengths, windows.DOCUMENT)
    else:  # long sentences in smaller batches: attention memory grows with T * T
        order = windows.cap(bucket_batches(lengths, batch_size), lengths)
    for batch_ids in order:
        batch_ids = [i for i in batch_ids if lengths[i]]  # an empty sentence gets no tags
        if batch_ids:
            yield batch_ids, encoded.batch(batch_ids, shared).to(device), table


def char_table(network: Any, encoded: Encoded, device: torch.device) -> torch.Tensor | None:
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
    try:
        with torch.inference_mode():
            for ids, batch, table in batches(network, vocab, sentences, batch_size, docs=docs):
                for row, i in zip(network.decode(batch, table).tolist(), ids):  # (B, T)
                    out[i] = [names[t] for t in row[: len(sentences[i])]]
    finally:
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
        pieces = decode_detailed(network, vocab, cut.pieces, k, batch_size, cut.docs)
        paths = windows.join_paths(cut, [(d.tags, d.confidences, d.probability) for d in pieces])
        return [
            pieces[group[0]] if len(group) == 1 else Decoded(tags, prob, conf, [(tags, prob)])
            for group, (tags, conf, prob) in zip(cut.groups, paths)
        ]
    out = [Decoded([], 1.0, [], []) for _ in sentences]
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():  # not inference_mode: the marginals take a gradient of log Z
            for ids, batch, table in batches(network, vocab, sentences, batch_size, docs=docs):
                nbest = network.decode_nbest(batch, k, table)
                best = nbest["paths"][:, 0]  # (B, T)
                chosen = nbest["marginals"].gather(2, best.unsqueeze(2)).squeeze(2).tolist()
                paths, probs = nbest["paths"].tolist(), nbest["path_probs"].tolist()  # (B, k, T)
                real = nbest["real"].tolist()  # (B, k): false where a sentence has fewer paths
                for row, i in enumerate(ids):
                    n = len(sentences[i])
                    options = [
                        ([vocab.tags[t] for t in path[:n]], prob)
                        for path, prob, ok in zip(paths[row], probs[row], real[row])
                        if ok
                    ]
                    out[i] = Decoded(options[0][0], options[0][1], chosen[row][:n], options)
    finally:
        network.train(was_training)
    return out


class Backend(Protocol):
    """What a :class:`tagger.prediction.Tagger` decodes with: model-scheme tags of sentences
    of at most ``windows.WINDOW`` tokens and, where the backend can, the detailed results."""

    batch_size: int

    def tags(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None
    ) -> list[list[str]]:
        """Model-scheme tags for each sentence, in input order."""
        ...

    def detailed(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None, k: int
    ) -> list[Decoded]:
        """Best path, marginals and ``k`` best paths of each sentence (may raise TaggerError)."""
        ...


class TorchBackend:
    """Decoding with the torch network itself, ``batch_size`` sentences per batch."""

    def __init__(self, network: Any, vocab: Vocab, batch_size: int = 256) -> None:
        self.network, self.vocab, self.batch_size = network, vocab, batch_size

    def tags(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None
    ) -> list[list[str]]:
        return decode(self.network, self.vocab, sentences, self.batch_size, docs)

    def detailed(
        self, sentences: Sequence[Sequence[str]], docs: Sequence[int] | None, k: int
    ) -> list[Decoded]:
        return decode_detailed(self.network, self.vocab, sentences, k, self.batch_size, docs)
