"""Document-level global attention: tokens attend across the sentences of their document."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from conftest import WNUT_TRAIN, tiny_overrides

from tagger.buffers import groups
from tagger.config import load_config
from tagger.data.batching import Encoded, document_batches
from tagger.data.conll import Chunk, Sentence, read_sentences
from tagger.decoding import decode
from tagger.errors import TaggerError
from tagger.model.attention import GlobalAttention, MultiHeadSelfAttention
from tagger.model.context import ContextBiLSTM, ContextLayer, by_document, from_documents
from tagger.prediction import Tagger
from tagger.training import train

DIM = 6


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four sentences of lengths 3, 5, 2, 4 as (4, 5, DIM) states and their mask."""
    torch.manual_seed(seed)
    lengths = torch.tensor([3, 5, 2, 4])
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    return torch.randn(4, 5, DIM), mask


@pytest.fixture(params=["global", "multihead", "bilstm", "bilstm-hidden"])
def layer(request: pytest.FixtureRequest) -> ContextLayer:
    """A document-scope layer of each kind that offers the scope."""
    torch.manual_seed(1)
    if request.param == "global":
        return GlobalAttention(DIM, size=4, dropout=0.0, scope="document").eval()
    if request.param.startswith("bilstm"):
        hidden = 3 if request.param == "bilstm-hidden" else None
        return ContextBiLSTM(DIM, dropout=0.0, scope="document", hidden=hidden).eval()
    return MultiHeadSelfAttention(
        DIM, heads=2, dropout=0.0, position="relative", scope="document"
    ).eval()


def test_by_document_round_trip_and_shapes() -> None:
    x, mask = batch()
    docs = torch.tensor([7, 3, 7, 3])
    packed, packed_mask, places = by_document(x, mask, docs)
    assert packed.shape == (2, 9, DIM)  # doc 3: 5 + 4 tokens, doc 7: 3 + 2
    assert packed_mask.sum(1).tolist() == [9, 5]
    back = from_documents(packed, places, mask)
    assert torch.equal(back[mask], x[mask]) and back[~mask].eq(0).all()


@pytest.mark.parametrize("hidden", [None, 3])
def test_document_bilstm_reads_a_document_as_one_sequence(hidden: int | None) -> None:
    """Each token's state equals the BiLSTM run over its document's tokens in reading order
    (with ``hidden``: H units per direction, projected back to D)."""
    x, mask = batch()
    layer = ContextBiLSTM(DIM, dropout=0.0, scope="document", hidden=hidden).eval()
    assert layer.lstm.out_dim == 2 * (hidden or DIM // 2)
    docs = torch.tensor([0, 1, 0, 1])
    out, _ = layer(x, mask, docs)
    for doc in (0, 1):
        rows = [i for i in range(4) if docs[i] == doc]
        tokens = torch.cat([x[i][mask[i]] for i in rows]).unsqueeze(0)  # (1, n, D)
        states = layer.lstm(tokens, torch.tensor([tokens.size(1)]))  # (1, n, 2H)
        update = states if hidden is None else layer.project(states)  # (1, n, D)
        alone = layer.norm(tokens + update)
        assert torch.allclose(torch.cat([out[i][mask[i]] for i in rows]), alone[0], atol=1e-5)


def test_one_document_per_sentence_equals_sentence_scope(layer: ContextLayer) -> None:
    x, mask = batch()
    attention = layer
    alone, _ = attention(x, mask, torch.arange(4))
    attention.document_level = False
    sentence, _ = attention(x, mask, torch.arange(4))
    assert torch.allclose(alone[mask], sentence[mask], atol=1e-6)


def test_tokens_see_their_document_and_only_it(layer: ContextLayer) -> None:
    x, mask = batch()
    attention = layer
    docs = torch.tensor([0, 0, 1, 1])
    before, _ = attention(x, mask, docs)
    changed = x.clone()
    changed[1] += 1.0  # sentence 1 belongs to document 0
    after, _ = attention(changed, mask, docs)
    assert not torch.allclose(after[0, :3], before[0, :3])  # sentence 0 sees sentence 1
    assert torch.allclose(after[2:][mask[2:]], before[2:][mask[2:]], atol=1e-6)  # document 1 not


def test_output_does_not_depend_on_other_documents_in_the_batch(layer: ContextLayer) -> None:
    x, mask = batch()
    attention = layer
    together, _ = attention(x, mask, torch.tensor([0, 0, 1, 1]))
    first, _ = attention(x[:2], mask[:2], torch.tensor([0, 0]))
    assert torch.allclose(together[:2][mask[:2]], first[mask[:2]], atol=1e-6)


def test_document_batches_keep_documents_whole() -> None:
    docs = [0] * 3 + [1] * 7 + [2] * 2 + [3] * 12 + [4]
    batches = document_batches(docs, 5)
    assert sorted(i for b in batches for i in b) == list(range(len(docs)))
    assert all(len(b) <= 5 for b in batches)
    for doc in (0, 2, 4):  # at most batch_size sentences: never cut
        members = [i for i, d in enumerate(docs) if d == doc]
        assert any(set(members) <= set(b) for b in batches)
    for batch in batches:  # a document's sentences stay in order within a batch
        for doc in {docs[i] for i in batch}:
            members = [i for i in batch if docs[i] == doc]
            assert members == list(range(members[0], members[0] + len(members)))
    # pieces 3, 5+2, 2, 5+5+2, 1: best-fit decreasing fills all five batches (in order: six)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 5]
    shuffled = document_batches(docs, 5, random.Random(0))
    assert sorted(i for b in shuffled for i in b) == list(range(len(docs)))
    assert sorted(map(len, shuffled)) == [5, 5, 5, 5, 5]


def test_document_batches_pack_documents_tightly_and_shuffle() -> None:
    rng = random.Random(3)
    docs = [d for d in range(60) for _ in range(rng.randint(1, 40))]
    batches = document_batches(docs, 32)
    assert sorted(i for b in batches for i in b) == list(range(len(docs)))
    assert max(map(len, batches)) <= 32
    bound = -(-len(docs) // 32)
    assert len(batches) <= bound + 2  # best-fit decreasing: within a few of the bound
    orders = {tuple(map(tuple, document_batches(docs, 32, random.Random(s)))) for s in range(3)}
    assert len(orders) == 3  # the rng shuffles


def chunk(doc: int) -> Chunk:
    return Chunk(["x"], Sentence(["x"], None, doc, 1), [0])


def test_groups_cut_between_documents_within_a_bound() -> None:
    chunks = [chunk(d) for d in [0, 0, 0, 1, 1, 2] + [3] * 9]
    sizes = [[c.sentence.doc for c in g] for g in groups(chunks, 2, whole_docs=True)]
    assert sizes == [[0, 0, 0], [1, 1], [2, 3, 3, 3], [3, 3, 3, 3], [3, 3]]
    plain = [len(g) for g in groups(chunks, 2)]
    assert plain == [2, 2, 2, 2, 2, 2, 2, 1]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 WNUT-17 sentences as 8 documents of 5 (a -DOCSTART- line before each)."""
    sentences = list(read_sentences(WNUT_TRAIN))[:40]
    text = "".join(
        ("-DOCSTART-\tO\n\n" if i % 5 == 0 else "")
        + "".join(f"{token}\t{tag}\n" for token, tag in zip(s.tokens, s.tags or []))
        + "\n"
        for i, s in enumerate(sentences)
    )
    path = tmp_path_factory.mktemp("docs") / "docs.conll"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "spec",
    [
        "[{type: global, size: 8, scope: document}]",
        "[{type: multihead, heads: 2, scope: document}]",
        "[{type: bilstm, scope: document}]",
        "[{type: bilstm, scope: document, hidden: 4}]",
    ],
)
def test_train_and_tag_with_document_attention(documents: Path, tmp_path: Path, spec: str) -> None:
    extra = {"model.attention": spec, "train.max_epochs": 2}
    cfg = load_config(None, [f"data.train={documents}", *tiny_overrides(tmp_path, **extra)])
    train(cfg, tmp_path / "run", progress=False, log=lambda _m: None)
    tagger = Tagger.load(tmp_path / "run")
    assert tagger.network.document_level
    sentences = list(read_sentences(documents))
    assert sorted({s.doc for s in sentences}) == list(range(8))
    tokens, docs = [s.tokens for s in sentences], [s.doc for s in sentences]
    out = tmp_path / "pred.conll"
    tagger.tag_file(str(documents), str(out))
    written = [s.tags for s in read_sentences(out)]
    assert written == tagger.tag(tokens, docs)
    assert written == [
        tagger._to_output(t) for t in decode(tagger.network, tagger.vocab, tokens, 8, docs)
    ]
    # The document context is used: without document ids the emissions differ.
    batch = Encoded(tagger.vocab, tokens[:5], None, 25, docs[:5]).batch(range(5))
    assert batch.docs is not None and batch.docs.tolist() == [0] * 5
    with torch.no_grad():
        with_docs = tagger.network.emissions(batch)
        batch.docs = None
        alone = tagger.network.emissions(batch)
    assert not torch.allclose(with_docs[batch.mask], alone[batch.mask])
    with pytest.raises(TaggerError, match="document-level"):
        from tagger.export import export_onnx

        export_onnx(tmp_path / "run")


@pytest.mark.parametrize("kind", ["global", "multihead"])
def test_unknown_scope_is_a_config_error(kind: str) -> None:
    from tagger.model.attention import build_attention

    with pytest.raises(TaggerError, match="scope must be sentence or document"):
        build_attention([{"type": kind, "scope": "corpus"}], dim=8)
