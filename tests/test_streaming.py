"""The streaming training path: the same statistics, batches and losses as whole-corpus lists."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_overrides

from tagger.config import load_config
from tagger.data.batching import Encoded
from tagger.data.dataset import load_corpus
from tagger.data.streaming import (
    ColumnView,
    StreamingEncoded,
    column_slices,
    document_ids,
    sentence_lengths,
)
from tagger.data.vocab import build_vocab
from tagger.training import build_loop
from tagger.training_data import prepare_vocab, tag_converter, to_model_tags


@pytest.fixture(scope="module")
def corpus(wnut40: Path, tmp_path_factory: pytest.TempPathFactory):
    return load_corpus(str(wnut40), cache_dir=str(tmp_path_factory.mktemp("stream-cache")))


def test_slices_and_index_match_the_lists(corpus) -> None:
    tokens = corpus["tokens"]
    slices = list(column_slices(corpus, "tokens", size=7))
    assert max(len(s) for s in slices) == 7 and sum(slices, []) == tokens
    assert sentence_lengths(corpus) == [len(t) for t in tokens]
    assert document_ids(corpus).tolist() == corpus["doc"]
    view = ColumnView(corpus, "line")
    assert [view[i] for i in range(len(view))] == corpus["line"]
    picked = corpus.select([3, 1, 4])  # an indices mapping is respected
    assert sentence_lengths(picked) == [len(tokens[i]) for i in (3, 1, 4)]


def test_streaming_batches_equal_whole_corpus_batches(corpus) -> None:
    tags = to_model_tags(corpus["tags"], "iob2", "iobes")
    vocab = build_vocab(zip(corpus["tokens"], tags), scheme="iob2", model_scheme="iobes")
    whole = Encoded(vocab, corpus["tokens"], tags, 25, corpus["doc"])
    streamed = StreamingEncoded(vocab, corpus, tag_converter("iob2", "iobes"), 25)
    rng = random.Random(0)
    for _ in range(10):
        ids = rng.sample(range(len(corpus)), 8)
        a, b = whole.batch(ids), streamed.batch(ids)
        for name, value in vars(a).items():
            other = getattr(b, name)
            assert (value is None and other is None) or torch.equal(value, other), name


def test_vocabulary_from_slices_equals_the_list_one(corpus, tmp_path: Path, wnut40: Path) -> None:
    cfg = load_config(None, [f"data.train={wnut40}", *tiny_overrides(tmp_path)])
    from tagger.training_data import Corpus

    vocab, matrix, _ = prepare_vocab(cfg, Corpus(str(wnut40), corpus), [], "iob2", "iobes")
    tags = to_model_tags(corpus["tags"], "iob2", "iobes")
    expected = build_vocab(zip(corpus["tokens"], tags), scheme="iob2", model_scheme="iobes")
    assert (vocab.words, vocab.chars, vocab.tags) == (expected.words, expected.chars, expected.tags)
    assert matrix.shape[0] == len(expected.words)


@pytest.mark.parametrize(
    "attention", ["[{type: multihead, heads: 2}]", "[{type: bilstm, scope: document}]"]
)
def test_training_losses_equal_the_whole_corpus_encoding(
    wnut40: Path, tmp_path: Path, attention: str
) -> None:
    """Two epochs with batches from Arrow rows and two with one whole-corpus ``Encoded``
    (the former in-memory path), same seed: the same losses, with dropout on."""
    losses = []
    for name in ("streamed", "whole"):
        extra = {"model.attention": attention, "model.dropout": 0.3, "model.word_dropout": 0.1}
        extra["train.max_epochs"] = 2
        sets = [f"data.train={wnut40}", *tiny_overrides(tmp_path / name, **extra)]
        loop, _ = build_loop(load_config(None, sets), tmp_path / name, log=lambda _m: None)
        if name == "whole":
            data = loop.train_set.data
            tags = to_model_tags(data["tags"], loop.vocab.scheme, loop.vocab.model_scheme)
            loop.encoded = Encoded(loop.vocab, data["tokens"], tags, 25, data["doc"])
        loop.run()
        losses.append([m["loss"] for m in loop.metrics])
    assert losses[0] == losses[1]
    assert np.isfinite(losses[0]).all()
