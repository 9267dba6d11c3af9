"""Document-scope models on enormous documents: pieces of bounded tokens, in training and tagging
(windows.DOCUMENT), the same tags as before for documents under the bound."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import WNUT_TRAIN, tiny_overrides

from tagger import windows
from tagger.config import load_config
from tagger.data.batching import document_batches
from tagger.data.conll import read_sentences
from tagger.decoding import decode
from tagger.model import context
from tagger.prediction import Tagger
from tagger.training import train

SENTENCES = list(read_sentences(WNUT_TRAIN))[:40]
WORDS = sorted({t for s in SENTENCES for t in s.tokens})


def words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(WORDS) for _ in range(count)]


def cells_of(batch: list[int], docs: list[int], lengths: list[int]) -> int:
    """(documents x longest document ** 2) of a batch: the attention cells at document scope."""
    tokens: dict[int, int] = {}
    for i in batch:
        tokens[docs[i]] = tokens.get(docs[i], 0) + lengths[i]
    return len(tokens) * max(tokens.values()) ** 2


@pytest.mark.parametrize("seed", [None, 0])
def test_a_huge_document_is_cut_into_bounded_pieces(seed: int | None) -> None:
    """200,000 tokens in one document (no -DOCSTART-), beside small ones: every batch holds at
    most DOCUMENT tokens and DOCUMENT ** 2 cells; small documents stay whole, in order."""
    rng = random.Random(1)
    lengths = [rng.randint(1, 40) for _ in range(30)]  # 3 small documents of 10 sentences
    docs = [i // 10 for i in range(30)]
    while sum(lengths[30:]) < 200_000:  # then the huge one, some sentences near WINDOW
        lengths.append(rng.choice([rng.randint(1, 60), rng.randint(1000, windows.WINDOW)]))
        docs.append(3)
    shuffle = None if seed is None else random.Random(seed)
    bound = windows.DOCUMENT
    batches = document_batches(docs, 256, shuffle, lengths, bound)
    assert sorted(i for b in batches for i in b) == list(range(len(docs)))
    assert max(sum(lengths[i] for i in b) for b in batches) <= bound
    assert max(cells_of(b, docs, lengths) for b in batches) <= bound**2
    for doc in range(3):
        assert any(set(range(10 * doc, 10 * doc + 10)) <= set(b) for b in batches)
    for batch in batches:  # one consecutive piece of a document per batch
        for doc in {docs[i] for i in batch}:
            members = [i for i in batch if docs[i] == doc]
            assert members == list(range(members[0], members[0] + len(members)))
    unbounded = document_batches(docs, 256, None)
    assert max(sum(lengths[i] for i in b) for b in unbounded) > 20 * bound  # the old batches


def test_a_sentence_longer_than_the_bound_is_a_piece_of_its_own() -> None:
    lengths, docs = [5, 30, 5, 5], [0, 0, 0, 0]
    batches = document_batches(docs, 8, None, lengths, 16)
    assert sorted(map(sorted, batches)) == [[0], [1], [2, 3]]


@pytest.fixture(scope="module")
def bilstm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model with a document-scope BiLSTM (one epoch on 40 WNUT-17 sentences)."""
    root = tmp_path_factory.mktemp("docbound")
    extra = {"model.attention": "[{type: bilstm, scope: document}]", "train.max_epochs": 1}
    small = root / "train40.conll"
    small.write_text(
        "".join(
            "".join(f"{t}\t{g}\n" for t, g in zip(s.tokens, s.tags or [])) + "\n" for s in SENTENCES
        ),
        encoding="utf-8",
    )
    cfg = load_config(None, [f"data.train={small}", *tiny_overrides(root, **extra)])
    train(cfg, root / "run", progress=False, log=lambda _m: None)
    return root / "run"


def watch_documents(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[tuple[int, int]]:
    """Record (documents, longest) of every document-scope layer call; fail before a call whose
    attention would exceed ``limit`` cells, as the old, uncapped batches did."""
    seen: list[tuple[int, int]] = []
    original: Callable[..., Any] = context.by_document

    def recording(x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor) -> Any:
        packed, packed_mask, places = original(x, mask, docs)
        groups, longest = packed_mask.shape
        seen.append((groups, longest))
        assert groups * longest * longest <= limit, f"{groups} documents x {longest} tokens"
        return packed, packed_mask, places

    monkeypatch.setattr(context, "by_document", recording)
    return seen


def test_tagging_a_huge_document_keeps_memory_bounded(
    bilstm_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 sentences of 1,000 tokens in one document: read in pieces of 4 sentences (DOCUMENT
    tokens), each tagged exactly as if it were a document of its own."""
    tagger = Tagger.load(bilstm_run)
    sentences = [words(1000, seed) for seed in range(12)]
    seen = watch_documents(monkeypatch, windows.DOCUMENT**2)
    tags = decode(tagger.network, tagger.vocab, sentences, docs=[0] * 12)
    assert seen and max(longest for _, longest in seen) <= windows.DOCUMENT
    per_piece = [i // (windows.DOCUMENT // 1000) for i in range(12)]  # 4 sentences a piece
    assert tags == decode(tagger.network, tagger.vocab, sentences, docs=per_piece)
    assert [len(t) for t in tags] == [1000] * 12


def test_documents_under_the_bound_are_tagged_as_before(
    bilstm_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents of a few hundred tokens: the same tags with the bound as without it, and as
    each document tagged alone (never cut)."""
    tagger = Tagger.load(bilstm_run)
    sentences = [s.tokens for s in SENTENCES]
    docs = [i // 8 for i in range(len(sentences))]  # 5 documents of 8 sentences
    bounded = decode(tagger.network, tagger.vocab, sentences, docs=docs)
    alone = [
        tags
        for doc in range(5)
        for tags in decode(tagger.network, tagger.vocab, sentences[8 * doc : 8 * doc + 8])
    ]
    monkeypatch.setattr(windows, "DOCUMENT", 10**9)
    assert bounded == decode(tagger.network, tagger.vocab, sentences, docs=docs)
    assert bounded == alone


def test_training_and_tagging_with_global_document_attention_respect_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the bound lowered to 48 tokens, a document-scope global attention layer never sees
    more than 48 x 48 cells per batch, in training as in tagging, on one long document."""
    bound = 48
    monkeypatch.setattr(windows, "DOCUMENT", bound)
    path = tmp_path / "one-document.conll"
    path.write_text(  # 40 sentences, no -DOCSTART-: a single document of about 700 tokens
        "".join(
            "".join(f"{t}\t{g}\n" for t, g in zip(s.tokens, s.tags or [])) + "\n"
            for s in SENTENCES
            if len(s.tokens) <= bound
        ),
        encoding="utf-8",
    )
    extra = {"model.attention": "[{type: global, size: 8, scope: document}]"}
    extra["train.max_epochs"] = 1
    cfg = load_config(None, [f"data.train={path}", *tiny_overrides(tmp_path, **extra)])
    seen = watch_documents(monkeypatch, bound**2)
    train(cfg, tmp_path / "run", progress=False, log=lambda _m: None)
    assert seen, "training ran document-scope batches"
    seen.clear()
    tagger = Tagger.load(tmp_path / "run")
    tokens = [s.tokens for s in read_sentences(path)]
    tags = tagger.tag(tokens, [0] * len(tokens))
    assert seen and [len(t) for t in tags] == [len(s) for s in tokens]
