"""The options of decoding and tagging: batch size, backends, whole-document training batches,
and the train/eval mode a decoding call leaves behind (an untrained tiny network is enough)."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
from conftest import tiny_overrides

import tagger.training as training
from tagger import windows
from tagger.archive import save_model
from tagger.config import load_config
from tagger.data.batching import document_batches
from tagger.decoding import TorchBackend, decode, decode_detailed
from tagger.prediction import Tagger

SENTENCES = [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"], ["x"] * 4] * 3


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, wnut40: Path):
    """A training loop (untrained network) on 40 WNUT-17 sentences."""
    tmp = tmp_path_factory.mktemp("pred")
    cfg = load_config(None, [f"data.train={wnut40}", *tiny_overrides(tmp / "cache")])
    built, _ = training.build_loop(cfg, tmp / "run", log=lambda _m: None)
    return built


def counting(network, name: str) -> list[int]:
    """Count the calls of ``network.<name>`` (one entry per call, its batch size)."""
    calls: list[int] = []
    real = getattr(network, name)

    def spy(batch, *args, **kwargs):
        calls.append(batch.words.shape[0])
        return real(batch, *args, **kwargs)

    setattr(network, name, spy)
    return calls


def test_batch_size_is_the_decoding_batch_size(loop, tmp_path: Path) -> None:
    save_model(tmp_path, loop.cfg, loop.vocab, loop.network, epoch=1, word_dim=16)
    expected = Tagger.load(tmp_path).tag(SENTENCES)
    tagger = Tagger.load(tmp_path, batch_size=2)
    assert tagger.batch_size == 2 and tagger.backend.batch_size == 2
    calls = counting(tagger.network, "decode")
    assert tagger.tag(SENTENCES) == expected
    assert max(calls) == 2 and sum(calls) == len(SENTENCES)


def test_a_backend_gets_sentences_cut_into_windows(loop) -> None:
    """The tagger cuts sentences longer than a window before its backend sees them, and
    joins the windows' tags: a backend never decodes an unbounded sentence."""
    seen: list[int] = []

    class Recording(TorchBackend):
        def tags(self, sentences, docs):
            seen.extend(len(s) for s in sentences)
            return super().tags(sentences, docs)

    long = [f"w{i % 50}" for i in range(windows.WINDOW + 300)]
    plain = Tagger(loop.cfg, loop.vocab, loop.network)
    backend = Recording(loop.network, loop.vocab, 64)
    tagged = Tagger(loop.cfg, loop.vocab, loop.network, backend=backend).tag([long, ["EU"]])
    assert tagged == plain.tag([long, ["EU"]])
    assert max(seen) <= windows.WINDOW and sum(seen) > len(long) + 1  # windows overlap


@pytest.mark.parametrize("method", ["decode", "decode_nbest"])
def test_decoding_restores_training_mode_after_an_error(loop, method: str) -> None:
    network = copy.deepcopy(loop.network).train()

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    setattr(network, method, broken)
    run = decode if method == "decode" else decode_detailed
    with pytest.raises(RuntimeError):
        run(network, loop.vocab, SENTENCES)
    assert network.training


def test_explain_leaves_the_mode_as_it_found_it(loop) -> None:
    network = copy.deepcopy(loop.network).train()
    Tagger(loop.cfg, loop.vocab, network).explain(["EU", "rejects", "German", "call"])
    assert network.training
    network.eval()
    Tagger(loop.cfg, loop.vocab, network).explain(["EU"])
    assert not network.training


def test_whole_documents_option_plans_document_batches(loop) -> None:
    assert loop.whole_documents is False  # no document-scope attention in this network
    size = loop.cfg.train.batch_size
    rng = random.Random(7)
    loop.whole_documents = True
    try:
        assert loop.plan(copy.deepcopy(rng)) == document_batches(loop.docs, size, rng)
    finally:
        loop.whole_documents = False
    assert loop.plan(random.Random(7)) != document_batches(loop.docs, size, random.Random(7))
